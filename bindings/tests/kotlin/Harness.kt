// A minimal test runner for the JVM binding tests (no JUnit here: no Maven Central): each
// test is a named function; a failure is printed and the process exits non-zero.
package dev.keel.tests

import dev.keel.ChatHandle
import dev.keel.ChatReport
import dev.keel.EngineSettings
import dev.keel.KeelConfig
import dev.keel.KeelException
import dev.keel.TokenListener
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

class Failure(message: String) : AssertionError(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw Failure(message())
}

inline fun <reified T : Throwable> expectThrows(block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw Failure("expected ${T::class.simpleName}, got $e")
    }
    throw Failure("expected ${T::class.simpleName}, nothing was thrown")
}

fun modelPath(): String {
    val path = System.getenv("KEEL_TEST_MODEL")
        ?: "${System.getProperty("user.home")}/.local/share/keel/models/SmolLM2-135M-Instruct-Q4_1.gguf"
    check(Files.exists(Paths.get(path))) { "the default model is missing at $path; run `keel model fetch`" }
    return path
}

fun tempHome(): Path = Files.createTempDirectory("keel-kotlin-")

fun config(home: Path) = KeelConfig(
    modelPath = modelPath(),
    home = home.toString(),
    engine = EngineSettings(nCtx = 1024u),
)

/** Collects one chat's batches and its final event. */
class Collector(private val failOnChunks: Boolean = false) : TokenListener {
    val batches = mutableListOf<List<String>>()
    @Volatile var report: ChatReport? = null
    @Volatile var error: KeelException? = null
    private val done = CountDownLatch(1)

    override fun onChunks(chunks: List<String>) {
        if (failOnChunks) throw IllegalStateException("listener exploded")
        synchronized(batches) { batches += chunks }
    }

    override fun onDone(report: ChatReport) {
        this.report = report
        done.countDown()
    }

    override fun onError(error: KeelException) {
        this.error = error
        done.countDown()
    }

    fun await(handle: ChatHandle? = null): Collector {
        check(done.await(120, TimeUnit.SECONDS)) { "the chat never ended" }
        handle?.let { check(it.isFinished()) { "the handle is not finished after the final event" } }
        return this
    }

    val text: String get() = synchronized(batches) { batches.flatten().joinToString("") }
}

fun waitUntil(what: String, condition: () -> Boolean) {
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120)
    while (!condition()) {
        check(System.nanoTime() < deadline) { "timed out waiting for $what" }
        Thread.sleep(20)
    }
}
