// The master key of Keel's store, kept by the Android Keystore: an AES-256 key that never
// leaves secure hardware wraps Keel's keys (through AesGcmKeyProvider, the same class the JVM
// tests exercise with an in-memory key).
package dev.keel.demo

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import dev.keel.KeySource
import dev.keel.demo.model.AesGcmKeyProvider
import java.security.KeyStore
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey

object AndroidKeystore {
    private const val ALIAS = "keel-master-key"
    private const val STORE = "AndroidKeyStore"

    /** Keel's key source backed by the Keystore key (created on first use). */
    fun keySource(): KeySource = KeySource.Keystore(AesGcmKeyProvider(::key))

    private fun key(): SecretKey {
        val ks = KeyStore.getInstance(STORE).apply { load(null) }
        (ks.getEntry(ALIAS, null) as? KeyStore.SecretKeyEntry)?.let { return it.secretKey }
        val gen = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, STORE)
        gen.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return gen.generateKey()
    }
}
