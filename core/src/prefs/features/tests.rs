//! Unit tests of the style features: they follow the text's style, stay in unit range for
//! odd text, cover every envelope dimension, and the embedding block must be finite.

use super::*;

#[test]
fn features_follow_the_style_of_the_text() {
    let short = extract("Yes. Bake it at 200 degrees.");
    let long = extract(&"Bread needs time to rise because the yeast ferments sugars. ".repeat(30));
    assert!(long.get(StyleFeature::Length) > short.get(StyleFeature::Length) + 0.3);
    let list = extract("Steps:\n- mix flour\n- add water\n- knead well");
    assert!(list.get(StyleFeature::ListShare) > 0.7);
    assert!(list.get(StyleFeature::Headings) > 0.0);
    let casual = extract("Hey, it's gonna be awesome, don't worry!");
    let formal = extract("However, it is therefore recommended to ensure the oven is hot.");
    assert!(formal.get(StyleFeature::Formality) > 0.7);
    assert!(casual.get(StyleFeature::Formality) < 0.3);
    let emoji = extract("Great 😀🎉 so fun");
    assert!(emoji.get(StyleFeature::Emoji) > 0.4);
    assert_eq!(short.get(StyleFeature::Emoji), 0.0);
    let question = extract("Would you like more tips? Shall I go on?");
    assert_eq!(question.get(StyleFeature::QuestionsBack), 1.0);
}

#[test]
fn every_feature_is_in_unit_range_even_for_odd_text() {
    for text in [
        "",
        "   \n\n",
        "```\n```",
        "!!!???",
        "a'b ’ '",
        "😀",
        "1) x\n2. y",
    ] {
        let f = extract(text);
        assert!(f.style.iter().all(|v| (0.0..=1.0).contains(v)), "{text:?}");
    }
}

#[test]
fn every_dimension_but_none_has_a_feature() {
    for d in Dimension::ALL {
        assert!(StyleFeature::indices_of(d).count() >= 1, "{d:?}");
    }
}

#[test]
fn embedding_block_must_be_finite() {
    assert!(extract("x").with_embedding(&[0.1, f32::NAN]).is_err());
    assert_eq!(
        extract("x")
            .with_embedding(&[0.5])
            .expect("finite")
            .embedding,
        vec![0.5]
    );
}
