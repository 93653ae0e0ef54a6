//! The in-workspace `uniffi-bindgen`: generates the Kotlin, Swift and Python sources from the
//! built `keel_ffi` library (library mode), at exactly the uniffi version the library uses.

fn main() {
    uniffi::uniffi_bindgen_main()
}
