// The store's master key, kept by the iOS Keychain: a random 256-bit key stored with
// kSecAttrAccessibleWhenUnlockedThisDeviceOnly wraps Keel's keys with AES-GCM (CryptoKit),
// binding Keel's associated data. Plugged into Keel through the `KeyProvider` foreign trait.
import CryptoKit
import Foundation
import Keel
import Security

final class KeychainKeyProvider: KeyProvider, @unchecked Sendable {
    private let account = "keel-master-key"

    func wrap(ad: Data, key: Data) throws -> Data {
        do {
            let sealed = try AES.GCM.seal(key, using: try masterKey(), authenticating: ad)
            guard let combined = sealed.combined else { throw KeelError.KeyStore(reason: "AES-GCM gave no output") }
            return combined
        } catch let e as KeelError {
            throw e
        } catch {
            throw KeelError.KeyStore(reason: "the Keychain key could not seal: \(type(of: error))")
        }
    }

    func unwrap(ad: Data, wrapped: Data) throws -> Data {
        let box: AES.GCM.SealedBox
        do { box = try AES.GCM.SealedBox(combined: wrapped) } catch { throw KeelError.WrongKey }
        do {
            return try AES.GCM.open(box, using: try masterKey(), authenticating: ad)
        } catch CryptoKitError.authenticationFailure {
            throw KeelError.WrongKey
        }
    }

    /// The Keychain's key, created on first use.
    private func masterKey() throws -> SymmetricKey {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        if status == errSecSuccess, let data = item as? Data { return SymmetricKey(data: data) }
        guard status == errSecItemNotFound else {
            throw KeelError.KeyStore(reason: "Keychain read failed (\(status))")
        }
        let key = SymmetricKey(size: .bits256)
        let add: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleWhenUnlockedThisDeviceOnly,
            kSecValueData as String: key.withUnsafeBytes { Data($0) },
        ]
        let added = SecItemAdd(add as CFDictionary, nil)
        guard added == errSecSuccess else { throw KeelError.KeyStore(reason: "Keychain write failed (\(added))") }
        return key
    }
}
