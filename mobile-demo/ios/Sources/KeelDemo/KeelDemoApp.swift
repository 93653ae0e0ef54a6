// The demo's SwiftUI shell: opens Keel (store in Application Support, key from the Keychain,
// the model copied into Documents) and shows the chat and profile screens. Logic lives in
// ChatModel and ProfileModel.
import Keel
import SwiftUI

@main
struct KeelDemoApp: App {
    @State private var keel: KeelRuntime?
    @State private var failure: String?

    var body: some Scene {
        WindowGroup {
            Group {
                if let keel {
                    RootView(keel: keel)
                } else if let failure {
                    Text("Keel could not start: \(failure)").padding()
                } else {
                    ProgressView("Loading the model…")
                }
            }
            .task { await open() }
        }
    }

    private func open() async {
        let fm = FileManager.default
        let docs = fm.urls(for: .documentDirectory, in: .userDomainMask)[0]
        let support = fm.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        let config = KeelConfig(
            modelPath: docs.appendingPathComponent("SmolLM2-135M-Instruct-Q4_1.gguf").path,
            home: support.appendingPathComponent("keel").path,
            bundle: nil,
            engine: EngineSettings(threads: nil, threadsBatch: nil, nCtx: 2048, nBatch: nil, gpuLayers: nil)
        )
        do {
            keel = try await KeelRuntime.openAsync(config: config, key: .keystore(provider: KeychainKeyProvider()))
        } catch {
            failure = "\(error)"
        }
    }
}

struct RootView: View {
    let keel: KeelRuntime
    var body: some View {
        VStack(spacing: 0) {
            Text(safetyLine(keel)).font(.caption2).padding(4)
            TabView {
                ChatView(model: ChatModel(keel: keel, user: "me")).tabItem { Label("Chat", systemImage: "bubble.left") }
                ProfileView(model: ProfileModel(keel: keel, user: "me")).tabItem { Label("Profile", systemImage: "person") }
            }
        }
    }
}

struct WhySheet: Identifiable {
    let id = UUID()
    let lines: [String]
}

struct ChatView: View {
    @StateObject var model: ChatModel
    @State private var input = ""
    @State private var why: WhySheet?

    var body: some View {
        VStack {
            List(model.exchanges) { ex in
                VStack(alignment: .leading, spacing: 6) {
                    Text("You: \(ex.prompt)").bold()
                    ForEach(Array(ex.answers.enumerated()), id: \.element.id) { i, a in
                        Text(a.error ?? (a.text + (a.streaming ? " ▌" : "")))
                        if !a.streaming, a.report != nil {
                            HStack {
                                Button(a.rating == true ? "👍✓" : "👍") { model.rate(ex.id, i, up: true) }
                                Button(a.rating == false ? "👎✓" : "👎") { model.rate(ex.id, i, up: false) }
                                Button("Try again") { model.tryAgain(ex.id) }
                                if ex.answers.count > 1 {
                                    Button(a.preferred ? "Preferred" : "I prefer this one") { model.prefer(ex.id, i) }
                                }
                                Button("Why?") { why = WhySheet(lines: model.why(ex.id, i)) }
                            }
                            .buttonStyle(.borderless)
                            .font(.caption)
                        }
                    }
                }
            }
            if let notice = model.notice { Text(notice).foregroundColor(.red) }
            HStack {
                TextField("Ask…", text: $input).textFieldStyle(.roundedBorder)
                if model.busy {
                    Button("Stop") { model.cancel() }
                } else {
                    Button("Send") { model.send(input); input = "" }
                }
            }
            .padding()
        }
        .sheet(item: $why) { sheet in
            VStack(alignment: .leading) {
                Text("Why this answer").font(.headline)
                ForEach(sheet.lines, id: \.self) { Text("• \($0)") }
            }
            .padding()
        }
    }
}

struct ProfileView: View {
    @StateObject var model: ProfileModel
    @State private var confirmForget = false

    var body: some View {
        List {
            if model.forgotten { Text("Everything Keel knew about you was deleted.") }
            if let notice = model.notice { Text(notice).foregroundColor(.red) }
            ForEach(model.description, id: \.self) { Text($0).font(.caption) }
            ForEach(model.preferences, id: \.dimension) { p in
                VStack(alignment: .leading) {
                    Text("\(String(describing: p.dimension)): \(String(format: "%.2f", p.value)) — \(String(describing: p.source))")
                    Slider(value: Binding(get: { p.value }, set: { v in Task { await model.set(p.dimension, v) } }), in: 0...1)
                    Button("Reset") { Task { await model.reset(p.dimension) } }.buttonStyle(.borderless)
                }
            }
            Button("Forget me", role: .destructive) { confirmForget = true }
        }
        .task { await model.refresh() }
        .confirmationDialog("Delete your profile and feedback for good?", isPresented: $confirmForget) {
            Button("Forget", role: .destructive) { model.forget() }
        }
    }
}
