// The profile screen's logic (view, edit, forget) and the safety status, without Android
// imports, so the JVM tests drive it as the Compose screen does.
package dev.keel.demo.model

import dev.keel.Dimension
import dev.keel.KeelException
import dev.keel.KeelRuntime
import dev.keel.Preference
import dev.keel.Source
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update

/** What the profile screen shows. */
data class ProfileUiState(
    val preferences: List<Preference> = emptyList(),
    val description: List<String> = emptyList(),
    val notice: String? = null,
    val forgotten: Boolean = false,
)

class ProfileViewModel(private val keel: KeelRuntime, private val user: String) {
    private val _state = MutableStateFlow(ProfileUiState())
    val state: StateFlow<ProfileUiState> = _state

    /** Load the profile (call off the UI thread, or use [refreshAsync]). */
    fun refresh() = guard {
        val p = keel.profile(user, null)
        _state.update { it.copy(preferences = p.preferences, description = p.description, notice = null) }
    }

    /** Load the profile from a coroutine. */
    suspend fun refreshAsync() {
        try {
            val p = keel.profileAsync(user, null)
            _state.update { it.copy(preferences = p.preferences, description = p.description, notice = null) }
        } catch (e: KeelException) {
            _state.update { it.copy(notice = describe(e)) }
        }
    }

    /** Set one preference; the notice says when the safety rules moved or refused it. */
    fun set(dimension: Dimension, value: Double) = guard {
        val result = keel.editPreference(user, dimension, value, null)
        val note = result.outcomes.firstNotNullOfOrNull { o ->
            when (o) {
                is dev.keel.FeedbackOutcome.Applied -> o.adjusted
                is dev.keel.FeedbackOutcome.Refused -> o.reason
                else -> null
            }
        }
        refresh()
        _state.update { it.copy(notice = note) }
    }

    /** Delete one preference (back to the starting point). */
    fun delete(dimension: Dimension) = guard {
        keel.deletePreference(user, dimension, null)
        refresh()
    }

    /** Forget this person entirely. */
    fun forget() = guard {
        keel.forget(user)
        _state.update { ProfileUiState(forgotten = true) }
    }

    private fun guard(block: () -> Unit) {
        try {
            block()
        } catch (e: KeelException) {
            _state.update { it.copy(notice = describe(e)) }
        }
    }
}

/** The safety status line: which rules are in force and who signed them. */
data class SafetyStatus(val bundle: String, val version: ULong, val signer: String, val developmentSigner: Boolean)

fun safetyStatus(keel: KeelRuntime): SafetyStatus {
    val b = keel.bundle()
    return SafetyStatus(
        bundle = b.bundleId ?: "none (developer mode)",
        version = b.version ?: 0UL,
        signer = b.rootFingerprint?.take(16) ?: "none",
        developmentSigner = b.developmentRoot,
    )
}

/** A dimension's name for people. */
fun name(d: Dimension): String = d.name.lowercase().replace('_', ' ')

/** Where a value comes from, for people. */
fun source(s: Source): String = when (s) {
    Source.POPULATION -> "starting point"
    Source.LEARNED -> "learned from your feedback"
    Source.STATED -> "you said so"
    Source.EDITED -> "you set it"
}
