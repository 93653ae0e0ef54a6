// The store's key provider for the demo: AES-256-GCM under a key the platform keeps.
// On Android the key lives in the Android Keystore (see AndroidKeystore.kt, which passes it
// in); the JVM tests pass an in-memory key. Only javax.crypto is used, so this class compiles
// and is tested on the JVM as it runs on the phone.
package dev.keel.demo.model

import dev.keel.KeelException
import dev.keel.KeyProvider
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Wraps Keel's store keys with AES-GCM under [key] (which never leaves the keystore on
 * Android): `iv || ciphertext+tag`, binding Keel's associated data. A wrapped key that does not
 * authenticate is reported as [KeelException.WrongKey].
 */
class AesGcmKeyProvider(private val key: () -> SecretKey) : KeyProvider {
    override fun wrap(ad: ByteArray, key: ByteArray): ByteArray {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // GCM picks a fresh random IV at each init (the Android Keystore insists on it).
        try {
            cipher.init(Cipher.ENCRYPT_MODE, this.key())
        } catch (e: java.security.InvalidKeyException) {
            throw KeelException.KeyStore("the keystore key is unusable: ${e.javaClass.simpleName}")
        }
        cipher.updateAAD(ad)
        val sealed = cipher.doFinal(key)
        return cipher.iv + sealed
    }

    override fun unwrap(ad: ByteArray, wrapped: ByteArray): ByteArray {
        if (wrapped.size <= IV_BYTES) throw KeelException.WrongKey()
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(
            Cipher.DECRYPT_MODE,
            key(),
            GCMParameterSpec(TAG_BITS, wrapped.copyOfRange(0, IV_BYTES)),
        )
        cipher.updateAAD(ad)
        return try {
            cipher.doFinal(wrapped.copyOfRange(IV_BYTES, wrapped.size))
        } catch (e: AEADBadTagException) {
            throw KeelException.WrongKey()
        }
    }

    private companion object {
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
