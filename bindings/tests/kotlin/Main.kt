// The Kotlin-on-the-JVM binding tests, run by .ci/test-bindings: the generated Kotlin and the
// cdylib (through JNA) on the real model, with the key provider implemented in Kotlin
// (AES-GCM, as the Android demo uses it with an Android Keystore key).
package dev.keel.tests

import kotlin.system.exitProcess

fun main() {
    val tests: List<Pair<String, () -> Unit>> = BindingTests.all() + ViewModelTests.all()
    var failed = 0
    for ((name, test) in tests) {
        val start = System.nanoTime()
        try {
            test()
            println("PASS $name (${(System.nanoTime() - start) / 1_000_000} ms)")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
            e.printStackTrace()
        }
    }
    println("${tests.size - failed} passed, $failed failed")
    BindingTests.shutdown()
    exitProcess(if (failed == 0) 0 else 1)
}
