// The chat screen's logic (the Swift twin of the Android demo's ChatViewModel): exchanges,
// streaming through a TokenListener, thumbs up/down, try again, "I prefer this one", and the
// "why this answer" lines. SwiftUI observes it; it has no UI code.
import Foundation
import Keel

struct Answer: Identifiable {
    let id = UUID()
    var text = ""
    var streaming = true
    var report: ChatReport?
    var error: String?
    var rating: Bool?
    var preferred = false
}

struct Exchange: Identifiable {
    let id: Int
    let prompt: String
    var answers: [Answer]
}

@MainActor
final class ChatModel: ObservableObject {
    @Published private(set) var exchanges: [Exchange] = []
    @Published private(set) var busy = false
    @Published var notice: String?

    private let keel: KeelRuntime
    private let user: String
    private let options: ChatOptions
    private var running: ChatHandle?  // kept: dropping it cancels the answer
    private var nextId = 0

    init(keel: KeelRuntime, user: String, options: ChatOptions = defaultChatOptions()) {
        self.keel = keel
        self.user = user
        self.options = options
    }

    func send(_ text: String) {
        guard !text.isEmpty, !busy else { return }
        let id = nextId
        nextId += 1
        exchanges.append(Exchange(id: id, prompt: text, answers: [Answer()]))
        start(id)
    }

    func tryAgain(_ id: Int) {
        guard !busy, let i = index(id), let turn = exchanges[i].answers.last?.report?.turnId else { return }
        call { _ = try self.keel.regenerate(user: self.user, turnId: turn) }
        exchanges[i].answers.append(Answer())
        start(id)
    }

    func rate(_ id: Int, _ answer: Int, up: Bool) {
        guard let i = index(id), let turn = exchanges[i].answers[answer].report?.turnId else { return }
        if call({ _ = try self.keel.rate(user: self.user, turnId: turn, up: up) }) {
            exchanges[i].answers[answer].rating = up
        }
    }

    func prefer(_ id: Int, _ answer: Int) {
        guard let i = index(id), let chosen = exchanges[i].answers[answer].report?.turnId,
              let other = exchanges[i].answers.indices.last(where: { $0 != answer })
                .flatMap({ exchanges[i].answers[$0].report?.turnId }) else { return }
        if call({ _ = try self.keel.prefer(user: self.user, chosen: chosen, other: other) }) {
            for a in exchanges[i].answers.indices { exchanges[i].answers[a].preferred = a == answer }
        }
    }

    func why(_ id: Int, _ answer: Int) -> [String] {
        guard let i = index(id), let r = exchanges[i].answers[answer].report else { return ["No report yet."] }
        var lines: [String] = []
        if r.incognito { lines.append("Incognito: your preferences were not used and nothing was saved.") }
        if r.shapedBy.isEmpty && !r.incognito { lines.append("No preference of yours shaped this answer yet.") }
        for s in r.shapedBy {
            lines.append("\(s.dimension) \(String(format: "%.2f", s.value)) (\(s.evidence) signals): \(s.instruction)")
        }
        lines.append("Safety check: \(r.verdict)")
        lines.append("Rules: \(r.bundle.bundleId ?? "none") v\(r.bundle.version ?? 0)")
        return lines
    }

    func cancel() { running?.cancel() }

    private func start(_ id: Int) {
        busy = true
        let listener = Listener(model: self, id: id)
        do {
            running = try keel.chat(user: user, messages: conversation(id), options: options, listener: listener)
        } catch {
            finish(id) { $0.error = "\(error)" }
        }
    }

    private func conversation(_ id: Int) -> [ChatMessage] {
        guard let upTo = index(id) else { return [] }
        var messages: [ChatMessage] = []
        for ex in exchanges[max(0, upTo - 2)..<upTo] {
            let shown = ex.answers.first(where: { $0.preferred }) ?? ex.answers.last
            messages.append(ChatMessage(role: .user, content: ex.prompt))
            messages.append(ChatMessage(role: .assistant, content: shown?.text ?? ""))
        }
        messages.append(ChatMessage(role: .user, content: exchanges[upTo].prompt))
        return messages
    }

    fileprivate func append(_ id: Int, _ chunks: [String]) {
        guard let i = index(id) else { return }
        exchanges[i].answers[exchanges[i].answers.count - 1].text += chunks.joined()
    }

    fileprivate func finish(_ id: Int, _ edit: (inout Answer) -> Void) {
        busy = false
        guard let i = index(id) else { return }
        edit(&exchanges[i].answers[exchanges[i].answers.count - 1])
        exchanges[i].answers[exchanges[i].answers.count - 1].streaming = false
    }

    private func index(_ id: Int) -> Int? { exchanges.firstIndex { $0.id == id } }

    @discardableResult
    private func call(_ f: () throws -> Void) -> Bool {
        do { try f(); return true } catch { notice = "\(error)"; return false }
    }
}

/// Delivers Keel's callbacks (a background thread) to the model on the main actor.
private final class Listener: TokenListener, @unchecked Sendable {
    weak var model: ChatModel?
    let id: Int
    init(model: ChatModel, id: Int) { self.model = model; self.id = id }

    func onChunks(chunks: [String]) throws {
        Task { @MainActor in self.model?.append(self.id, chunks) }
    }
    func onDone(report: ChatReport) throws {
        Task { @MainActor in self.model?.finish(self.id) { $0.report = report } }
    }
    func onError(error: KeelError) throws {
        Task { @MainActor in self.model?.finish(self.id) { $0.error = "\(error)" } }
    }
}
