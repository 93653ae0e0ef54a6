// The chat screen's logic, without Android imports: it holds the exchanges, streams answers
// from Keel into them, and turns the screen's buttons (thumbs up/down, try again, "I prefer
// this one", "why this answer") into Keel calls. Compose observes [ChatViewModel.state]; the
// JVM tests drive the same class.
package dev.keel.demo.model

import dev.keel.ChatHandle
import dev.keel.ChatMessage
import dev.keel.ChatOptions
import dev.keel.ChatReport
import dev.keel.KeelException
import dev.keel.KeelRuntime
import dev.keel.Role
import dev.keel.TokenListener
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update

/** One answer to a prompt, as it streams and after. */
data class Answer(
    val text: String = "",
    val streaming: Boolean = true,
    val report: ChatReport? = null,
    val error: String? = null,
    val rating: Boolean? = null,
    val preferred: Boolean = false,
)

/** A prompt and its answers (more than one after "try again"). */
data class Exchange(val id: Int, val prompt: String, val answers: List<Answer>)

/** What the chat screen shows. */
data class ChatUiState(
    val exchanges: List<Exchange> = emptyList(),
    val busy: Boolean = false,
    val notice: String? = null,
)

/** The "why this answer" sheet. */
data class WhyThisAnswer(val lines: List<String>)

class ChatViewModel(
    private val keel: KeelRuntime,
    private val user: String,
    private val options: ChatOptions,
    private val historyExchanges: Int = 2,
) {
    private val _state = MutableStateFlow(ChatUiState())
    val state: StateFlow<ChatUiState> = _state

    // Keep the running chat's handle: dropping it would cancel the answer.
    @Volatile private var running: ChatHandle? = null
    private var nextId = 0

    /** Ask [text]; the answer streams into a new exchange. */
    fun send(text: String) {
        if (text.isBlank() || _state.value.busy) return
        val id = synchronized(this) { nextId++ }
        _state.update { it.copy(exchanges = it.exchanges + Exchange(id, text, listOf(Answer())), busy = true, notice = null) }
        start(id)
    }

    /** "Try again": tell Keel the shown answer was not wanted, and stream another one. */
    fun tryAgain(exchangeId: Int) {
        val ex = exchange(exchangeId) ?: return
        if (_state.value.busy) return
        val turn = ex.answers.last().report?.turnId ?: return
        call { keel.regenerate(user, turn) }
        editExchange(exchangeId) { it.copy(answers = it.answers + Answer()) }
        _state.update { it.copy(busy = true) }
        start(exchangeId)
    }

    /** Thumbs up ([up]) or down on answer [answerIndex] of an exchange. */
    fun rate(exchangeId: Int, answerIndex: Int, up: Boolean) {
        val turn = answer(exchangeId, answerIndex)?.report?.turnId ?: return
        if (call { keel.rate(user, turn, up) }) {
            editAnswer(exchangeId, answerIndex) { it.copy(rating = up) }
        }
    }

    /** "I prefer this one": answer [answerIndex] over the exchange's other answer. */
    fun prefer(exchangeId: Int, answerIndex: Int) {
        val ex = exchange(exchangeId) ?: return
        val chosen = ex.answers.getOrNull(answerIndex)?.report?.turnId ?: return
        val other = ex.answers.withIndex().lastOrNull { it.index != answerIndex }?.value?.report?.turnId ?: return
        if (call { keel.prefer(user, chosen, other) }) {
            editExchange(exchangeId) { e ->
                e.copy(answers = e.answers.mapIndexed { i, a -> a.copy(preferred = i == answerIndex) })
            }
        }
    }

    /** The "why this answer" sheet for one answer. */
    fun why(exchangeId: Int, answerIndex: Int): WhyThisAnswer {
        val report = answer(exchangeId, answerIndex)?.report
            ?: return WhyThisAnswer(listOf("This answer has no report yet."))
        return WhyThisAnswer(explain(report))
    }

    /** Stop the answer that is streaming. */
    fun cancel() {
        running?.cancel()
    }

    private fun start(exchangeId: Int) {
        val listener = Listener(exchangeId)
        try {
            running = keel.chat(user, conversation(exchangeId), options, listener)
        } catch (e: KeelException) {
            listener.onError(e)
        }
    }

    /** The last few exchanges (their preferred or latest answers) and this prompt. */
    private fun conversation(exchangeId: Int): List<ChatMessage> {
        val all = _state.value.exchanges
        val upTo = all.indexOfFirst { it.id == exchangeId }
        val earlier = all.subList(maxOf(0, upTo - historyExchanges), upTo).flatMap { ex ->
            val shown = ex.answers.firstOrNull { it.preferred } ?: ex.answers.last()
            listOf(ChatMessage(Role.USER, ex.prompt), ChatMessage(Role.ASSISTANT, shown.text))
        }
        return earlier + ChatMessage(Role.USER, all[upTo].prompt)
    }

    private inner class Listener(private val exchangeId: Int) : TokenListener {
        override fun onChunks(chunks: List<String>) {
            editLast(exchangeId) { it.copy(text = it.text + chunks.joinToString("")) }
        }

        override fun onDone(report: ChatReport) {
            editLast(exchangeId) { it.copy(streaming = false, report = report) }
            _state.update { it.copy(busy = false) }
        }

        override fun onError(error: KeelException) {
            editLast(exchangeId) { it.copy(streaming = false, error = describe(error)) }
            _state.update { it.copy(busy = false) }
        }
    }

    private fun call(block: () -> Unit): Boolean = try {
        block()
        true
    } catch (e: KeelException) {
        _state.update { it.copy(notice = describe(e)) }
        false
    }

    private fun exchange(id: Int) = _state.value.exchanges.firstOrNull { it.id == id }

    private fun answer(id: Int, index: Int) = exchange(id)?.answers?.getOrNull(index)

    private fun editExchange(id: Int, f: (Exchange) -> Exchange) =
        _state.update { s -> s.copy(exchanges = s.exchanges.map { if (it.id == id) f(it) else it }) }

    private fun editAnswer(id: Int, index: Int, f: (Answer) -> Answer) =
        editExchange(id) { e -> e.copy(answers = e.answers.mapIndexed { i, a -> if (i == index) f(a) else a }) }

    private fun editLast(id: Int, f: (Answer) -> Answer) =
        editExchange(id) { e -> e.copy(answers = e.answers.dropLast(1) + f(e.answers.last())) }
}

/** The lines of the "why this answer" sheet. */
fun explain(report: ChatReport): List<String> {
    val lines = mutableListOf<String>()
    if (report.incognito) lines += "Incognito: your preferences were not used and nothing was saved."
    if (report.shapedBy.isEmpty() && !report.incognito) {
        lines += "No preference of yours shaped this answer yet."
    }
    for (s in report.shapedBy) {
        lines += "${name(s.dimension)} ${"%.2f".format(s.value)} (${source(s.source)}, " +
            "${s.evidence} signals): ${s.instruction}"
    }
    lines += "Safety check: ${report.verdict.name.lowercase()}" +
        (report.output?.rules?.takeIf { it.isNotEmpty() }?.let { " (rules ${it.joinToString()})" } ?: "")
    lines += "Rules: ${report.bundle.bundleId ?: "none"} v${report.bundle.version ?: 0}"
    report.generation?.let { lines += "${it.generatedTokens} tokens, ${"%.1f".format(it.decodeTokS)} tokens/s" }
    return lines
}

/** A Keel error in words for the screen. */
fun describe(e: KeelException): String = when (e) {
    is KeelException.WrongKey -> "This device's key does not open the saved data."
    is KeelException.KeyStore -> "The keystore is unavailable: ${e.reason}"
    is KeelException.Closed -> "Keel was shut down; restart the app."
    is KeelException.Cancelled -> "Stopped."
    is KeelException.Config -> "Setup problem: ${e.reason}"
    is KeelException.Safety -> "Safety rules unavailable: ${e.reason}"
    is KeelException.Model -> "The model failed: ${e.reason}"
    is KeelException.Store -> "Saving failed: ${e.reason}"
    is KeelException.InvalidInput -> "Not accepted: ${e.reason}"
    is KeelException.Callback -> "The app failed: ${e.reason}"
}
