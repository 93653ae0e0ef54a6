// The Android demo's screen logic (plain Kotlin view models) on the real runtime: send and
// stream, thumbs up, try again, "I prefer this one", "why this answer", the profile screen
// (view, edit, forget) and the safety status.
package dev.keel.tests

import dev.keel.Dimension
import dev.keel.Source
import dev.keel.demo.model.ChatViewModel
import dev.keel.demo.model.ProfileViewModel
import dev.keel.demo.model.safetyStatus
import dev.keel.greedyChatOptions
import kotlinx.coroutines.runBlocking

object ViewModelTests {
    fun all(): List<Pair<String, () -> Unit>> = listOf(
        "view model: chat, rate, try again, prefer, why" to ::chatScreen,
        "view model: profile view, edit, forget; safety status" to ::profileScreen,
    )

    private fun chatScreen() {
        val vm = ChatViewModel(BindingTests.runtime, "vm-user", greedyChatOptions(12u))
        vm.send("What is rain?")
        waitUntil("the first answer") { !vm.state.value.busy }
        val ex = vm.state.value.exchanges.single()
        val first = ex.answers.single()
        check(first.error == null && first.text.isNotBlank() && !first.streaming) { "$first" }
        vm.rate(ex.id, 0, true)
        check(vm.state.value.exchanges.single().answers[0].rating == true) { "${vm.state.value}" }
        vm.tryAgain(ex.id)
        waitUntil("the second answer") { !vm.state.value.busy }
        val answers = vm.state.value.exchanges.single().answers
        check(answers.size == 2 && answers[1].report?.turnId != null) { "$answers" }
        check(answers[0].report!!.turnId != answers[1].report!!.turnId) { "two turns" }
        vm.prefer(ex.id, 1)
        val after = vm.state.value
        check(after.notice == null) { "${after.notice}" }
        check(after.exchanges.single().answers.map { it.preferred } == listOf(false, true)) { "$after" }
        val why = vm.why(ex.id, 1).lines
        check(why.any { it.startsWith("Safety check: allow") }) { "$why" }
        check(why.any { it.startsWith("Rules: ") }) { "$why" }
        // A follow-up carries the preferred answer as history.
        vm.send("And snow?")
        waitUntil("the follow-up") { !vm.state.value.busy }
        check(vm.state.value.exchanges.size == 2) { "${vm.state.value}" }
    }

    private fun profileScreen() {
        val vm = ProfileViewModel(BindingTests.runtime, "vm-profile")
        runBlocking { vm.refreshAsync() }
        check(vm.state.value.preferences.size == 7) { "${vm.state.value}" }
        vm.set(Dimension.FORMALITY, 0.9)
        val formality = vm.state.value.preferences.first { it.dimension == Dimension.FORMALITY }
        check(formality.source == Source.EDITED) { "$formality" }
        check(vm.state.value.description.isNotEmpty()) { "described" }
        vm.delete(Dimension.FORMALITY)
        val reset = vm.state.value.preferences.first { it.dimension == Dimension.FORMALITY }
        check(reset.source != Source.EDITED) { "$reset" }
        vm.forget()
        check(vm.state.value.forgotten) { "forgotten" }
        val safety = safetyStatus(BindingTests.runtime)
        check(safety.version > 0UL && safety.signer != "none") { "$safety" }
    }
}
