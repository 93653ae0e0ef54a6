// The demo's Android shell: opens Keel (store in the app's files, key from the Android
// Keystore, the model pushed next to the app) and shows the Compose screens. All screen
// logic lives in model/ (plain Kotlin, tested on the JVM); this file only draws it.
package dev.keel.demo

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.ModalBottomSheet
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Slider
import androidx.compose.material3.Tab
import androidx.compose.material3.TabRow
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.keel.EngineSettings
import dev.keel.KeelConfig
import dev.keel.KeelException
import dev.keel.KeelRuntime
import dev.keel.defaultChatOptions
import dev.keel.demo.model.ChatViewModel
import dev.keel.demo.model.Exchange
import dev.keel.demo.model.ProfileViewModel
import dev.keel.demo.model.SafetyStatus
import dev.keel.demo.model.WhyThisAnswer
import dev.keel.demo.model.describe
import dev.keel.demo.model.name
import dev.keel.demo.model.safetyStatus
import dev.keel.demo.model.source
import java.io.File

private const val USER = "me"

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent { MaterialTheme { App(::openKeel) } }
    }

    private suspend fun openKeel(): KeelRuntime {
        val model = File(getExternalFilesDir(null), "models/SmolLM2-135M-Instruct-Q4_1.gguf")
        val config = KeelConfig(
            modelPath = model.path,
            home = filesDir.resolve("keel").path,
            engine = EngineSettings(nCtx = 2048u),
        )
        return KeelRuntime.openAsync(config, AndroidKeystore.keySource())
    }
}

@Composable
private fun App(open: suspend () -> KeelRuntime) {
    var keel by remember { mutableStateOf<KeelRuntime?>(null) }
    var failure by remember { mutableStateOf<String?>(null) }
    LaunchedEffect(Unit) {
        try {
            keel = open()
        } catch (e: KeelException) {
            failure = describe(e)
        }
    }
    val k = keel
    when {
        failure != null -> Text("Keel could not start: $failure", Modifier.padding(16.dp))
        k == null -> Text("Loading the model…", Modifier.padding(16.dp))
        else -> Screens(k)
    }
}

@Composable
private fun Screens(keel: KeelRuntime) {
    val chat = remember { ChatViewModel(keel, USER, defaultChatOptions()) }
    val profile = remember { ProfileViewModel(keel, USER) }
    val safety = remember { safetyStatus(keel) }
    var tab by remember { mutableStateOf(0) }
    Column(Modifier.fillMaxSize()) {
        TabRow(selectedTabIndex = tab) {
            Tab(tab == 0, { tab = 0 }, text = { Text("Chat") })
            Tab(tab == 1, { tab = 1 }, text = { Text("Profile") })
        }
        SafetyLine(safety)
        if (tab == 0) ChatScreen(chat) else ProfileScreen(profile)
    }
}

@Composable
private fun SafetyLine(s: SafetyStatus) {
    val signer = if (s.developmentSigner) "development signer" else "signer ${s.signer}"
    Text("Safety rules: ${s.bundle} v${s.version}, $signer", Modifier.padding(8.dp), style = MaterialTheme.typography.labelSmall)
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun ChatScreen(vm: ChatViewModel) {
    val state by vm.state.collectAsStateWithLifecycle()
    var input by remember { mutableStateOf("") }
    var why by remember { mutableStateOf<WhyThisAnswer?>(null) }
    Column(Modifier.fillMaxSize().padding(8.dp)) {
        LazyColumn(Modifier.weight(1f)) {
            items(state.exchanges, key = { it.id }) { ex -> ExchangeView(vm, ex) { why = it } }
        }
        state.notice?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedTextField(input, { input = it }, Modifier.weight(1f), placeholder = { Text("Ask…") })
            if (state.busy) {
                Button(onClick = vm::cancel) { Text("Stop") }
            } else {
                Button(onClick = { vm.send(input); input = "" }) { Text("Send") }
            }
        }
    }
    why?.let { sheet ->
        ModalBottomSheet(onDismissRequest = { why = null }) {
            Column(Modifier.padding(16.dp)) {
                Text("Why this answer", style = MaterialTheme.typography.titleMedium)
                sheet.lines.forEach { Text("• $it") }
            }
        }
    }
}

@Composable
private fun ExchangeView(vm: ChatViewModel, ex: Exchange, showWhy: (WhyThisAnswer) -> Unit) {
    Column(Modifier.padding(vertical = 6.dp)) {
        Text("You: ${ex.prompt}", style = MaterialTheme.typography.bodyMedium)
        ex.answers.forEachIndexed { i, a ->
            Text(a.error ?: a.text + if (a.streaming) " ▌" else "")
            if (!a.streaming && a.report != null) {
                Row {
                    TextButton({ vm.rate(ex.id, i, true) }) { Text(if (a.rating == true) "👍✓" else "👍") }
                    TextButton({ vm.rate(ex.id, i, false) }) { Text(if (a.rating == false) "👎✓" else "👎") }
                    TextButton({ vm.tryAgain(ex.id) }) { Text("Try again") }
                    if (ex.answers.size > 1) {
                        TextButton({ vm.prefer(ex.id, i) }) { Text(if (a.preferred) "Preferred" else "I prefer this one") }
                    }
                    TextButton({ showWhy(vm.why(ex.id, i)) }) { Text("Why?") }
                }
            }
        }
    }
}

@Composable
private fun ProfileScreen(vm: ProfileViewModel) {
    val state by vm.state.collectAsStateWithLifecycle()
    var confirmForget by remember { mutableStateOf(false) }
    LaunchedEffect(Unit) { vm.refreshAsync() }
    Column(Modifier.fillMaxSize().padding(12.dp)) {
        if (state.forgotten) Text("Everything Keel knew about you was deleted.")
        state.notice?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        state.description.forEach { Text(it, style = MaterialTheme.typography.bodySmall) }
        LazyColumn(Modifier.weight(1f)) {
            items(state.preferences) { p ->
                var value by remember(p.value) { mutableStateOf(p.value.toFloat()) }
                Column(Modifier.padding(vertical = 4.dp)) {
                    Text("${name(p.dimension)}: ${"%.2f".format(p.value)} — ${source(p.source)}")
                    Slider(value, { value = it }, onValueChangeFinished = { vm.set(p.dimension, value.toDouble()) })
                    TextButton({ vm.delete(p.dimension) }) { Text("Reset") }
                }
            }
        }
        Button(onClick = { confirmForget = true }) { Text("Forget me") }
    }
    if (confirmForget) {
        AlertDialog(
            onDismissRequest = { confirmForget = false },
            confirmButton = { TextButton({ vm.forget(); confirmForget = false }) { Text("Forget") } },
            dismissButton = { TextButton({ confirmForget = false }) { Text("Cancel") } },
            text = { Text("Delete your profile and feedback for good?") },
        )
    }
}
