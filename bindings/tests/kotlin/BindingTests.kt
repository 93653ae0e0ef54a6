// The runtime through the Kotlin bindings: open with a Kotlin key provider, a streamed chat,
// suspend functions, feedback and the profile, and bad input across the boundary (a wrong
// key, a throwing key provider, a throwing listener, a closed runtime, a cancelled and
// destroyed handle): each a clear exception, never a crash of the JVM.
package dev.keel.tests

import dev.keel.ChatMessage
import dev.keel.Dimension
import dev.keel.FeedbackOutcome
import dev.keel.FinishReason
import dev.keel.KeelException
import dev.keel.KeelRuntime
import dev.keel.KeyProvider
import dev.keel.KeySource
import dev.keel.Role
import dev.keel.Source
import dev.keel.Verdict
import dev.keel.demo.model.AesGcmKeyProvider
import dev.keel.greedyChatOptions
import dev.keel.keelVersion
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import kotlinx.coroutines.runBlocking

object BindingTests {
    private val aesKey: SecretKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
    private val home = tempHome()
    val runtime: KeelRuntime by lazy {
        KeelRuntime.open(config(home), KeySource.Keystore(AesGcmKeyProvider { aesKey }))
    }

    fun ask(text: String) = listOf(ChatMessage(Role.USER, text))

    fun shutdown() = runtime.shutdown()

    fun all(): List<Pair<String, () -> Unit>> = listOf(
        "version" to { check(keelVersion() == "0.1.0") { keelVersion() } },
        "open with a Kotlin key provider" to ::openWithKotlinProvider,
        "chat streams in batches and reports" to ::chatStreams,
        "suspend functions" to ::suspendFunctions,
        "feedback changes the profile and the next report" to ::feedbackAndProfile,
        "cancel, and a cancelled handle reused" to ::cancelAndReuse,
        "wrong key is KeelException.WrongKey" to ::wrongKey,
        "a throwing key provider is KeelException.KeyStore" to ::throwingProvider,
        "a throwing listener cancels and is told" to ::throwingListener,
        "a closed runtime refuses every call" to ::closedRuntime,
    )

    private fun openWithKotlinProvider() {
        val status = runtime.status()
        check(status.keyMethod == "platform") { status.keyMethod }
        check(status.bundle.bundleId != null && status.bundle.rootFingerprint != null) { "$status" }
    }

    private fun chatStreams() {
        val c = Collector()
        val handle = runtime.chat("ana", ask("Name a colour."), greedyChatOptions(12u), c)
        c.await(handle)
        check(c.error == null) { "${c.error}" }
        check(c.text.isNotBlank()) { "no text streamed" }
        val r = c.report!!
        check(r.turnId != null && !r.incognito) { "$r" }
        check(r.verdict == Verdict.ALLOW) { "${r.verdict}" }
        check((r.generation?.generatedTokens ?: 0UL) > 0UL) { "${r.generation}" }
        handle.close()
    }

    private fun suspendFunctions() = runBlocking {
        val other = KeelRuntime.openAsync(config(tempHome()), KeySource.RawKeyHex("33".repeat(32)))
        try {
            val personal = other.chatAsync("ana", ask("Hi"), greedyChatOptions(6u))
            check(personal.report.turnId != null) { "${personal.report}" }
            val private = other.chatIncognitoAsync(ask("Hi"), greedyChatOptions(6u))
            check(private.report.turnId == null && private.report.incognito) { "${private.report}" }
            check(other.profileAsync("ana", null).preferences.size == 7) { "profile size" }
        } finally {
            other.shutdown()
            other.close()
        }
    }

    private fun feedbackAndProfile() {
        val first = runtime.chatBlocking("ben", ask("Say hello."), greedyChatOptions(8u))
        val up = runtime.rate("ben", first.report.turnId!!, true)
        check(up.eventId != null) { "$up" }
        val stated = runtime.state("ben", "I prefer short answers", null)
        check(stated.outcomes.any { it is FeedbackOutcome.Applied && it.dimension == Dimension.VERBOSITY }) {
            "${stated.outcomes}"
        }
        val verbosity = runtime.profile("ben", null).preferences.first { it.dimension == Dimension.VERBOSITY }
        check(verbosity.source == Source.STATED && verbosity.value < 0.5) { "$verbosity" }
        val next = runtime.chatBlocking("ben", ask("Say hello."), greedyChatOptions(8u))
        check(next.report.shapedBy.any { it.dimension == Dimension.VERBOSITY }) { "${next.report.shapedBy}" }
        expectThrows<KeelException.InvalidInput> { runtime.rate("ben", "no-such-turn", true) }
    }

    private fun cancelAndReuse() {
        val c = Collector()
        val handle = runtime.chat("ana", ask("Write a long story about the sea."), greedyChatOptions(400u), c)
        handle.cancel()
        handle.cancel()
        c.await(handle)
        val report = c.report
        if (report != null) {
            check(report.generation?.finish == FinishReason.CANCELLED) { "${report.generation}" }
        } else {
            check(c.error is KeelException.Cancelled) { "${c.error}" }
        }
        handle.cancel() // after the end: nothing happens
        handle.close()
        expectThrows<IllegalStateException> { handle.cancel() } // destroyed: a clear error
        // The runtime still serves.
        check(runtime.chatBlocking("ana", ask("Hi"), greedyChatOptions(4u)).report.turnId != null) { "served" }
    }

    private fun wrongKey() {
        val otherKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
        expectThrows<KeelException.WrongKey> {
            KeelRuntime.open(config(home), KeySource.Keystore(AesGcmKeyProvider { otherKey }))
        }
    }

    private fun throwingProvider() {
        val throwing = object : KeyProvider {
            override fun wrap(ad: ByteArray, key: ByteArray): ByteArray = throw RuntimeException("keystore locked")
            override fun unwrap(ad: ByteArray, wrapped: ByteArray): ByteArray = throw RuntimeException("keystore locked")
        }
        val e = expectThrows<KeelException.KeyStore> {
            KeelRuntime.open(config(tempHome()), KeySource.Keystore(throwing))
        }
        check(e.reason.contains("key provider")) { e.reason }
    }

    private fun throwingListener() {
        val c = Collector(failOnChunks = true)
        val handle = runtime.chat("ana", ask("Count to twenty."), greedyChatOptions(40u), c)
        c.await(handle)
        check(c.error is KeelException.Callback) { "${c.error}" }
        handle.close()
    }

    private fun closedRuntime() {
        val rt = KeelRuntime.open(config(tempHome()), KeySource.RawKeyHex("44".repeat(32)))
        rt.shutdown()
        rt.shutdown()
        check(rt.isClosed()) { "closed" }
        expectThrows<KeelException.Closed> { rt.chatBlocking("ana", ask("Hi"), greedyChatOptions(4u)) }
        expectThrows<KeelException.Closed> { rt.profile("ana", null) }
        expectThrows<KeelException.Closed> { rt.chat("ana", ask("Hi"), greedyChatOptions(4u), Collector()) }
        rt.close()
    }
}
