// The profile screen's logic (view, edit, reset, forget) and the safety status line.
import Foundation
import Keel

@MainActor
final class ProfileModel: ObservableObject {
    @Published private(set) var preferences: [Preference] = []
    @Published private(set) var description: [String] = []
    @Published private(set) var forgotten = false
    @Published var notice: String?

    private let keel: KeelRuntime
    private let user: String

    init(keel: KeelRuntime, user: String) {
        self.keel = keel
        self.user = user
    }

    func refresh() async {
        do {
            let p = try await keel.profileAsync(user: user, context: nil)
            preferences = p.preferences
            description = p.description
        } catch { notice = "\(error)" }
    }

    func set(_ dimension: Dimension, _ value: Double) async {
        do {
            let r = try keel.editPreference(user: user, dimension: dimension, value: value, context: nil)
            await refresh()
            notice = r.outcomes.compactMap { o -> String? in
                switch o {
                case let .applied(_, _, _, adjusted): return adjusted
                case let .refused(_, reason): return reason
                default: return nil
                }
            }.first
        } catch { notice = "\(error)" }
    }

    func reset(_ dimension: Dimension) async {
        do {
            _ = try keel.deletePreference(user: user, dimension: dimension, context: nil)
            await refresh()
        } catch { notice = "\(error)" }
    }

    func forget() {
        do {
            _ = try keel.forget(user: user)
            preferences = []
            description = []
            forgotten = true
        } catch { notice = "\(error)" }
    }
}

/// "Safety rules: <bundle> v<version>, signer <fingerprint>".
func safetyLine(_ keel: KeelRuntime) -> String {
    guard let b = try? keel.bundle() else { return "Safety rules: unavailable" }
    let signer = b.developmentRoot ? "development signer" : "signer \(b.rootFingerprint?.prefix(16) ?? "none")"
    return "Safety rules: \(b.bundleId ?? "none") v\(b.version ?? 0), \(signer)"
}
