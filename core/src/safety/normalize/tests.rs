//! Unit tests of normalization: each fold step, the collapse of separators between
//! single-character words, soft boundaries, origins, and the fold table against its definition.

use super::fold::fold_char_uncached;
use super::*;

fn norm(text: &str) -> String {
    normalize(text).text
}

#[test]
fn each_normalization_step() {
    assert_eq!(norm("BOMB"), "bomb", "case");
    assert_eq!(norm("ｂｏｍｂ"), "bomb", "NFKC fullwidth");
    assert_eq!(
        norm("b\u{200B}o\u{00AD}m\u{202E}b"),
        "bomb",
        "invisible and format"
    );
    assert_eq!(norm("b\u{043E}mb"), "bomb", "Cyrillic o skeleton");
    assert_eq!(
        norm("\u{0430}\u{0440}\u{0440}l\u{0435}"),
        "apple",
        "Cyrillic a, r, e"
    );
    assert_eq!(norm("b̸ó̸m̸b̸"), "bomb", "combining marks");
    assert_eq!(norm("b.o.m.b"), "bomb", "dots between single letters");
    assert_eq!(norm("b o m b"), "bomb", "spaces between single letters");
    assert_eq!(norm("Straße"), "strasse", "sharp s folds");
    assert_eq!(norm("ﬁle"), "file", "ligature");
}

#[test]
fn words_are_not_collapsed() {
    assert_eq!(norm("a bomb"), "a bomb");
    assert_eq!(norm("to be or"), "to be or");
    assert_eq!(
        norm("x          y"),
        "x          y",
        "long separator runs stay"
    );
}

#[test]
fn soft_boundaries_mark_collapsed_joins() {
    let n = normalize("a b o m b");
    assert_eq!(n.text, "abomb");
    assert_eq!(n.soft_boundaries, vec![1, 2, 3, 4]);
}

#[test]
fn origins_point_back_to_the_original() {
    let text = "x ｂ\u{200B}y";
    let n = normalize(text);
    assert_eq!(n.text, "x by");
    let (s, e) = n.origin[2];
    assert_eq!(&text[s as usize..e as usize], "ｂ");
}

#[test]
fn the_table_equals_the_definition() {
    for c in ['A', 'é', 'ｍ', 'а', 'Ω', 'ß', '\u{200D}', '中', '１'] {
        assert_eq!(fold_char(c), fold_char_uncached(c), "{c:?}");
    }
}
