//! Unit tests of the generation settings: defaults and greedy are valid, older saved settings
//! still load, and each bad value names its parameter.

use super::*;

#[test]
fn defaults_and_greedy_are_valid() {
    GenerationParams::default().validate().expect("default");
    GenerationParams::greedy(8).validate().expect("greedy");
    assert!(SamplingParams::greedy().is_greedy());
}

#[test]
fn settings_saved_before_the_anti_repetition_options_still_load_with_them_off() {
    let old = r#"{"temperature":0.0,"top_k":0,"top_p":1.0,"min_p":0.0,
        "repeat_penalty":1.0,"repeat_last_n":64,"seed":7}"#;
    let p: SamplingParams = serde_json::from_str(old).expect("loads");
    assert_eq!(p.frequency_penalty, 0.0);
    assert_eq!(p.presence_penalty, 0.0);
    assert_eq!(p.dry_multiplier, 0.0);
    assert_eq!(p.min_tokens, 0);
    assert_eq!(p.dry_base, SamplingParams::default().dry_base);
    assert_eq!(
        p.dry_allowed_length,
        SamplingParams::default().dry_allowed_length
    );
    p.validate().expect("valid");
}

#[test]
fn each_bad_value_names_its_parameter() {
    let cases: Vec<(&str, SamplingParams)> = vec![
        (
            "temperature",
            SamplingParams {
                temperature: -1.0,
                ..Default::default()
            },
        ),
        (
            "temperature",
            SamplingParams {
                temperature: f32::NAN,
                ..Default::default()
            },
        ),
        (
            "top_k",
            SamplingParams {
                top_k: -3,
                ..Default::default()
            },
        ),
        (
            "top_p",
            SamplingParams {
                top_p: 0.0,
                ..Default::default()
            },
        ),
        (
            "top_p",
            SamplingParams {
                top_p: 1.5,
                ..Default::default()
            },
        ),
        (
            "min_p",
            SamplingParams {
                min_p: 2.0,
                ..Default::default()
            },
        ),
        (
            "repeat_penalty",
            SamplingParams {
                repeat_penalty: 0.0,
                ..Default::default()
            },
        ),
        (
            "repeat_last_n",
            SamplingParams {
                repeat_last_n: -5,
                ..Default::default()
            },
        ),
        (
            "frequency_penalty",
            SamplingParams {
                frequency_penalty: f32::INFINITY,
                ..Default::default()
            },
        ),
        (
            "presence_penalty",
            SamplingParams {
                presence_penalty: 3.0,
                ..Default::default()
            },
        ),
        (
            "dry_multiplier",
            SamplingParams {
                dry_multiplier: -0.5,
                ..Default::default()
            },
        ),
        (
            "dry_base",
            SamplingParams {
                dry_base: 0.5,
                ..Default::default()
            },
        ),
        (
            "dry_allowed_length",
            SamplingParams {
                dry_allowed_length: 0,
                ..Default::default()
            },
        ),
    ];
    for (name, params) in cases {
        match params.validate() {
            Err(EngineError::InvalidSampling { parameter, .. }) => assert_eq!(parameter, name),
            other => panic!("{name}: expected an error, got {other:?}"),
        }
    }
    let p = GenerationParams {
        max_tokens: 0,
        ..Default::default()
    };
    assert!(p.validate().is_err());
    let p = GenerationParams {
        stop: vec![String::new()],
        ..Default::default()
    };
    assert!(p.validate().is_err());
}
