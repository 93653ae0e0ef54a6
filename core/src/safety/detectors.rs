//! Built-in detectors for personal data: payment card numbers (Luhn check), e-mail addresses,
//! phone numbers, IBANs (ISO 7064 mod-97 check) and US social security numbers. Each is a
//! linear-time pattern over normalized text with a bounded match length, plus a validator that
//! confirms a candidate and says where it starts. This module owns only that; the gate runs the
//! patterns.

use serde::{Deserialize, Serialize};

/// A built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// 13–19 digit card numbers, spaces or dashes allowed, passing the Luhn check.
    PaymentCard,
    /// E-mail addresses.
    Email,
    /// Phone numbers with 9–15 digits in common layouts.
    Phone,
    /// International bank account numbers passing the mod-97 check.
    Iban,
    /// US social security numbers (AAA-GG-SSSS, invalid areas excluded).
    UsSsn,
}

impl DetectorKind {
    /// The pattern (on normalized, lower-case text).
    pub fn pattern(self) -> &'static str {
        match self {
            Self::PaymentCard => r"[0-9](?:[ -]?[0-9]){12,18}",
            Self::Email => r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
            Self::Phone => {
                r"(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{2,4}\)[ .-]?|[0-9]{2,4}[ .-])[0-9]{3,4}[ .-]?[0-9]{3,4}"
            }
            Self::Iban => r"[a-z]{2}[0-9]{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?",
            Self::UsSsn => r"[0-9]{3}-[0-9]{2}-[0-9]{4}",
        }
    }

    /// The longest match considered, in bytes.
    pub fn max_len(self) -> usize {
        match self {
            Self::PaymentCard => 37,
            Self::Email => 128,
            Self::Phone => 26,
            Self::Iban => 42,
            Self::UsSsn => 11,
        }
    }

    /// Confirm a candidate `span` (the longest match ending where the pattern matched), given
    /// the bytes just before and after it: a datum must not continue into a longer number or
    /// word.
    pub fn validate(self, span: &[u8], before: Option<u8>, after: Option<u8>) -> bool {
        let touches = |b: Option<u8>, alnum: bool| {
            b.is_some_and(|b| {
                if alnum {
                    b.is_ascii_alphanumeric()
                } else {
                    b.is_ascii_digit()
                }
            })
        };
        match self {
            Self::PaymentCard => !touches(before, false) && !touches(after, false) && card_ok(span),
            Self::Email => true,
            Self::Phone => {
                let digits = span.iter().filter(|b| b.is_ascii_digit()).count();
                !touches(before, false) && !touches(after, false) && (9..=15).contains(&digits)
            }
            Self::Iban => !touches(before, true) && !touches(after, true) && iban_ok(span),
            Self::UsSsn => !touches(before, false) && !touches(after, false) && ssn_ok(span),
        }
    }
}

/// Whether `digits` (ASCII digits) pass the Luhn check.
pub fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// 13–19 digits, not all the same, passing Luhn.
fn card_ok(span: &[u8]) -> bool {
    let digits: Vec<u8> = span.iter().copied().filter(u8::is_ascii_digit).collect();
    (13..=19).contains(&digits.len()) && digits.iter().any(|&d| d != digits[0]) && luhn_ok(&digits)
}

fn iban_ok(span: &[u8]) -> bool {
    let chars: Vec<u8> = span.iter().copied().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&chars.len()) {
        return false;
    }
    let (head, tail) = chars.split_at(4);
    let mut rem = 0u32;
    for &b in tail.iter().chain(head) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'a'..=b'z' => u32::from(b - b'a') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn ssn_ok(span: &[u8]) -> bool {
    let d: Vec<u8> = span.iter().copied().filter(u8::is_ascii_digit).collect();
    if d.len() != 9 {
        return false;
    }
    let area = &d[..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &d[3..5] != b"00" && &d[5..] != b"0000"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_typos() {
        assert!(luhn_ok(b"4111111111111111"));
        assert!(!luhn_ok(b"4111111111111112"));
        let card = DetectorKind::PaymentCard;
        assert!(card.validate(b"4111 1111 1111 1111", Some(b' '), None));
        assert!(!card.validate(b"4111 1111 1111 1112", None, None));
        assert!(
            !card.validate(b"4111 1111 1111 1111", Some(b'7'), None),
            "part of a longer number"
        );
    }

    #[test]
    fn iban_and_ssn_checks() {
        assert!(iban_ok(b"gb82 west 1234 5698 7654 32"));
        assert!(!iban_ok(b"gb82 west 1234 5698 7654 33"));
        assert!(ssn_ok(b"123-45-6789"));
        assert!(!ssn_ok(b"666-45-6789"));
    }
}
