//! The server's bearer token: generated on first run and kept in `KEEL_HOME` with 0600
//! permissions, printed once, replaced by `--rotate-token`, or supplied by `KEEL_API_TOKEN`;
//! and the check of a presented token, in constant time.
//!
//! Both sides are hashed (SHA-256) before the constant-time comparison, so neither the
//! content nor the length of the real token leaks through timing.

use std::io::Write;
use std::path::{Path, PathBuf};

use keel::store::SecretString;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use crate::error::CliError;

/// The token file's name inside `KEEL_HOME`.
pub const TOKEN_FILE: &str = "server-token";
/// The shortest token accepted from `KEEL_API_TOKEN`.
pub const MIN_ENV_TOKEN_CHARS: usize = 16;
/// Random bytes in a generated token.
const TOKEN_BYTES: usize = 32;
/// Lowercase hexadecimal digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A bearer token. Its `Debug` never shows it; its text is zeroized on drop.
pub struct Token {
    secret: SecretString,
    hash: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    fn new(secret: String) -> Self {
        let secret = SecretString::new(secret);
        let hash = sha256(secret.expose_secret().as_bytes());
        Self { secret, hash }
    }

    /// The token's text (to print once or hand to a client).
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.hash.ct_eq(&sha256(presented)))
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Where the token came from, which decides what `keel serve` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `KEEL_API_TOKEN`: never printed.
    Env,
    /// Made now (first run or `--rotate-token`) and saved here: printed this once.
    Created(PathBuf),
    /// Read from this file: not printed again.
    Stored(PathBuf),
}

/// The token file in `home`.
pub fn token_path(home: &Path) -> PathBuf {
    home.join(TOKEN_FILE)
}

/// The token to serve with: `env_token` when given, else the stored one, else (or with
/// `rotate`) a fresh one saved with 0600 permissions.
pub fn resolve(
    home: &Path,
    env_token: Option<&str>,
    rotate: bool,
) -> Result<(Token, Origin), CliError> {
    if let Some(t) = env_token {
        let t = t.trim();
        if t.chars().count() < MIN_ENV_TOKEN_CHARS || t.chars().any(char::is_whitespace) {
            return Err(CliError::Usage(format!(
                "KEEL_API_TOKEN must be at least {MIN_ENV_TOKEN_CHARS} characters without \
                 spaces; unset it to have `keel serve` make a strong one"
            )));
        }
        if rotate {
            return Err(CliError::Usage(
                "--rotate-token makes a new stored token, but KEEL_API_TOKEN overrides it; \
                 unset KEEL_API_TOKEN or change it yourself"
                    .into(),
            ));
        }
        return Ok((Token::new(t.to_owned()), Origin::Env));
    }
    let path = token_path(home);
    if !rotate {
        match std::fs::read_to_string(&path).map(SecretString::new) {
            Ok(s) if !s.expose_secret().trim().is_empty() => {
                tighten(&path)?;
                let token = Token::new(s.expose_secret().trim().to_owned());
                return Ok((token, Origin::Stored(path)));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::io(format!("read {}", path.display()), e)),
        }
    }
    let token = generate()?;
    save(&path, &token)?;
    Ok((token, Origin::Created(path)))
}

/// A fresh token: `keel-` and 32 random bytes in hex.
pub fn generate() -> Result<Token, CliError> {
    let mut bytes = zeroize::Zeroizing::new([0u8; TOKEN_BYTES]);
    SystemRandom::new().fill(bytes.as_mut()).map_err(|_| {
        CliError::Usage("the system's random number generator failed; try again".into())
    })?;
    // Written straight into the token's own string: no unzeroized copy of it is left.
    let mut text = String::with_capacity(5 + 2 * TOKEN_BYTES);
    text.push_str("keel-");
    for &b in bytes.iter() {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Ok(Token::new(text))
}

/// Write the token to `path` readable by its owner only: a 0600 temporary file renamed
/// over the old one, so no moment exists where the token sits in a wider-open file.
fn save(path: &Path, token: &Token) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let write = || -> std::io::Result<()> {
        let mut f = opts.open(&tmp)?;
        f.write_all(token.expose().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| CliError::io(format!("save the token to {}", path.display()), e))
}

/// Make a stored token file owner-only again if someone widened its permissions.
fn tighten(path: &Path) -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| CliError::io(format!("inspect {}", path.display()), e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!("the token file was readable by others; setting it to 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| CliError::io(format!("chmod 600 {}", path.display()), e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The token a request presents in `Authorization: Bearer <token>`, if any.
pub fn bearer(header: Option<&[u8]>) -> Option<&[u8]> {
    let h = header?;
    let (scheme, rest) = (h.get(..7)?, h.get(7..)?);
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    let rest = &rest[start..];
    let end = rest.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1);
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_run_creates_a_0600_token_and_later_runs_read_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (t1, o1) = resolve(dir.path(), None, false).expect("create");
        assert_eq!(o1, Origin::Created(token_path(dir.path())));
        assert!(t1.expose().starts_with("keel-") && t1.expose().len() == 5 + 64);
        assert!(t1.expose()[5..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path(dir.path()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        }
        let (t2, o2) = resolve(dir.path(), None, false).expect("read");
        assert_eq!(o2, Origin::Stored(token_path(dir.path())));
        assert_eq!(t1.expose(), t2.expose());
        let (t3, o3) = resolve(dir.path(), None, true).expect("rotate");
        assert!(matches!(o3, Origin::Created(_)));
        assert_ne!(t3.expose(), t1.expose());
        assert!(!t3.matches(t1.expose().as_bytes()));
        let (t4, _) = resolve(dir.path(), None, false).expect("read rotated");
        assert_eq!(t4.expose(), t3.expose());
    }

    #[cfg(unix)]
    #[test]
    fn a_widened_token_file_is_tightened_again() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        resolve(dir.path(), None, false).expect("create");
        let path = token_path(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        resolve(dir.path(), None, false).expect("read");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_environment_overrides_and_must_be_strong() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (t, o) = resolve(dir.path(), Some("a-long-enough-token-123"), false).expect("env");
        assert_eq!(o, Origin::Env);
        assert!(t.matches(b"a-long-enough-token-123"));
        assert!(!token_path(dir.path()).exists(), "env token is not stored");
        assert!(resolve(dir.path(), Some("short"), false).is_err());
        assert!(resolve(dir.path(), Some("has a space in it!!"), false).is_err());
        assert!(resolve(dir.path(), Some("a-long-enough-token-123"), true).is_err());
    }

    #[test]
    fn comparison_accepts_only_the_exact_token() {
        let t = Token::new("keel-abcdef0123456789".into());
        assert!(t.matches(b"keel-abcdef0123456789"));
        assert!(!t.matches(b"keel-abcdef012345678"));
        assert!(!t.matches(b"keel-abcdef01234567890"));
        assert!(!t.matches(b"KEEL-ABCDEF0123456789"));
        assert!(!t.matches(b""));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some(b"Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(Some(b"bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer(Some(b"Basic abc")), None);
        assert_eq!(bearer(Some(b"Bearer ")), None);
        assert_eq!(bearer(Some(b"Bearer")), None);
        assert_eq!(bearer(None), None);
    }
}
