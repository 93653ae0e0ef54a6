//! What the personalized runtime keeps in the store, and how: a sealed turn record per chat
//! turn (what [`TurnLookup`] needs: the prompt key and the answer shown), learner
//! observations as sealed events of kind [`EVENT_KIND_OBSERVATIONS`] (one event per feedback
//! call, so a call is stored whole or not at all), and the turn ids handed to the app.
//! Explicit statements are stored once, as the person wrote them (the store's statement
//! events); their observations — preferences and notes for unmapped clauses — are derived
//! by the deterministic parser whenever the learner is rebuilt, in event order.

use std::collections::BTreeMap;

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::engine::{ChatMessage, Role};
use crate::prefs::profile::lean_for_value;
use crate::prefs::statements::parse_statement;
use crate::prefs::{
    ContextKey, Observation, Source, StatementOutcome, TurnAnswer, TurnId, TurnLookup,
};
use crate::safety::personalization::PersonalizationEnvelope;
use crate::store::{NewEvent, Store, EVENT_KIND_STATEMENT};

use super::PersonalError;

/// Event kind of a batch of learner observations (body: a JSON array of [`Observation`]).
pub const EVENT_KIND_OBSERVATIONS: &str = "obs";

/// The sealed body of a turn record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnBody {
    /// Equal for answers to the same prompt (see [`prompt_key`]).
    pub prompt_key: String,
    /// The answer as shown to the person (after the gate).
    pub text: String,
    /// The context key of the turn, if any.
    pub context: Option<ContextKey>,
    /// Whether the gate blocked the turn (the text is then the bundle's refusal).
    pub blocked: bool,
}

/// A key naming the conversation an answer replies to: a SHA-256 over the roles and texts of
/// every non-system message. System messages are left out so that a changed profile preamble
/// does not make a regenerated answer look like an answer to another prompt.
pub fn prompt_key(messages: &[ChatMessage]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for m in messages.iter().filter(|m| m.role != Role::System) {
        let role: &[u8] = match m.role {
            Role::User => b"u",
            Role::Assistant => b"a",
            Role::System => b"s",
        };
        ctx.update(role);
        ctx.update(&(m.content.len() as u64).to_be_bytes());
        ctx.update(m.content.as_bytes());
    }
    hex::encode(&ctx.finish().as_ref()[..16])
}

/// The next turn id for `user`: `t` and one more than the highest number among their turns
/// (short, so a person can type it; deterministic given the store).
pub fn next_turn_id(store: &Store, user: &str) -> Result<TurnId, PersonalError> {
    let turns = store.list_turns(user)?;
    let highest = turns
        .items
        .iter()
        .filter_map(|t| t.turn_id.strip_prefix('t')?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    // Corrupt rows still hold ids we cannot read: count them so no id is reused.
    let n = highest.max(turns.items.len() as u64 + turns.corrupt.len() as u64) + 1;
    Ok(TurnId::new(format!("t{n}"))?)
}

/// Record `body` as turn `id` of `user`, sealed.
pub fn save_turn(
    store: &Store,
    user: &str,
    id: &TurnId,
    body: &TurnBody,
) -> Result<(), PersonalError> {
    let bytes = serde_json::to_vec(body).map_err(|_| PersonalError::Record("turn"))?;
    store.record_turn(user, id.as_str(), &bytes)?;
    Ok(())
}

/// Turn `id` of `user`, if recorded.
pub fn load_turn(
    store: &Store,
    user: &str,
    id: &TurnId,
) -> Result<Option<TurnBody>, PersonalError> {
    match store.load_turn(user, id.as_str())? {
        Some(record) => serde_json::from_slice(&record.body)
            .map(Some)
            .map_err(|_| PersonalError::Record("turn")),
        None => Ok(None),
    }
}

/// The turns one feedback event names, read from the store: a [`TurnLookup`] for
/// [`crate::prefs::resolve`]. Unknown turns are simply absent (resolve reports them).
#[derive(Debug, Default)]
pub struct StoredTurns {
    answers: BTreeMap<TurnId, TurnAnswer>,
}

impl StoredTurns {
    /// Load the turns `ids` of `user`.
    pub fn load<'a>(
        store: &Store,
        user: &str,
        ids: impl IntoIterator<Item = &'a TurnId>,
    ) -> Result<Self, PersonalError> {
        let mut answers = BTreeMap::new();
        for id in ids {
            if let Some(body) = load_turn(store, user, id)? {
                answers.insert(
                    id.clone(),
                    TurnAnswer {
                        prompt_key: body.prompt_key,
                        text: body.text,
                        embedding: None,
                    },
                );
            }
        }
        Ok(Self { answers })
    }
}

impl TurnLookup for StoredTurns {
    fn answer(&self, turn: &TurnId) -> Option<&TurnAnswer> {
        self.answers.get(turn)
    }
}

/// Store `observations` for `user` as one sealed event. Returns the event id.
pub fn save_observations(
    store: &Store,
    user: &str,
    turn: Option<&TurnId>,
    context: Option<&ContextKey>,
    observations: &[Observation],
) -> Result<i64, PersonalError> {
    let body = serde_json::to_vec(observations).map_err(|_| PersonalError::Record("feedback"))?;
    let mut event = NewEvent::new(EVENT_KIND_OBSERVATIONS, &body);
    event.turn_id = turn.map(TurnId::as_str);
    event.context = context.map(ContextKey::as_str);
    Ok(store.add_event(user, &event)?)
}

/// Store a statement for `user` as written (about `turn`, when given). Returns the event id.
pub fn save_statement(
    store: &Store,
    user: &str,
    text: &str,
    turn: Option<&TurnId>,
    context: Option<&ContextKey>,
) -> Result<i64, PersonalError> {
    let mut event = NewEvent::new(EVENT_KIND_STATEMENT, text.as_bytes());
    event.turn_id = turn.map(TurnId::as_str);
    event.context = context.map(ContextKey::as_str);
    Ok(store.add_event(user, &event)?)
}

/// What a statement amounts to under `envelope`: the parser's outcome per clause, and the
/// observations (a stated lean per applied clause, a note per unmapped one; refusals none).
pub fn statement_observations(
    text: &str,
    context: Option<&ContextKey>,
    envelope: &PersonalizationEnvelope,
) -> (Vec<Observation>, Vec<StatementOutcome>) {
    let outcomes = parse_statement(text, envelope);
    let observations = outcomes
        .iter()
        .filter_map(|o| match o {
            StatementOutcome::Applied {
                dimension, value, ..
            } => Some(Observation::SetLean {
                context: context.cloned(),
                dimension: *dimension,
                lean: lean_for_value(*value, envelope.range(*dimension).default),
                source: Source::Stated,
            }),
            StatementOutcome::Unmapped { note } => Some(Observation::Note {
                context: context.cloned(),
                text: note.clone(),
            }),
            StatementOutcome::Refused { .. } => None,
        })
        .collect();
    (observations, outcomes)
}

/// Every observation `user` has stored, in order (statements parsed under `envelope`), and
/// how many stored events could not be read (corrupt or undecodable: skipped, never guessed
/// at).
pub fn load_observations(
    store: &Store,
    user: &str,
    envelope: &PersonalizationEnvelope,
) -> Result<(Vec<Observation>, usize), PersonalError> {
    let events = store.list_events(user)?;
    let mut skipped = events.corrupt.len();
    let mut out = Vec::new();
    for e in &events.items {
        if e.kind == EVENT_KIND_OBSERVATIONS {
            match serde_json::from_slice::<Vec<Observation>>(&e.body) {
                Ok(batch) => out.extend(batch),
                Err(_) => skipped += 1,
            }
        } else if e.kind == EVENT_KIND_STATEMENT {
            let text = std::str::from_utf8(&e.body);
            let context = e.context.clone().map(ContextKey::new).transpose();
            match (text, context) {
                (Ok(text), Ok(context)) => {
                    out.extend(statement_observations(text, context.as_ref(), envelope).0)
                }
                _ => skipped += 1,
            }
        }
    }
    Ok((out, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RawKeyProvider, SecretKey};

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(
            &dir.path().join("keel.db"),
            &RawKeyProvider::new(SecretKey::from_bytes([3; 32])),
        )
        .expect("open")
    }

    #[test]
    fn the_prompt_key_ignores_system_messages_only() {
        let base = vec![ChatMessage::user("hi")];
        let with_system = vec![ChatMessage::system("be brief"), ChatMessage::user("hi")];
        assert_eq!(prompt_key(&base), prompt_key(&with_system));
        assert_ne!(prompt_key(&base), prompt_key(&[ChatMessage::user("hi!")]));
        assert_ne!(
            prompt_key(&[ChatMessage::user("ab")]),
            prompt_key(&[ChatMessage::assistant("a"), ChatMessage::user("b")])
        );
    }

    #[test]
    fn turn_ids_count_up_per_person_and_turns_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        let t1 = next_turn_id(&s, "ana").expect("id");
        assert_eq!(t1.as_str(), "t1");
        let body = TurnBody {
            prompt_key: "k".into(),
            text: "An answer.".into(),
            context: None,
            blocked: false,
        };
        save_turn(&s, "ana", &t1, &body).expect("save");
        assert_eq!(next_turn_id(&s, "ana").expect("id").as_str(), "t2");
        assert_eq!(next_turn_id(&s, "ben").expect("id").as_str(), "t1");
        assert_eq!(load_turn(&s, "ana", &t1).expect("load"), Some(body));
        assert_eq!(load_turn(&s, "ben", &t1).expect("load"), None);
        let turns = StoredTurns::load(&s, "ana", [&t1]).expect("lookup");
        assert_eq!(
            turns.answer(&t1).map(|a| a.text.as_str()),
            Some("An answer.")
        );
    }

    #[test]
    fn statements_and_observations_rebuild_in_event_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        let envelope = crate::safety::default_bundle()
            .expect("default bundle")
            .envelope()
            .clone();
        let work = ContextKey::new("work").expect("context");
        save_statement(
            &s,
            "ana",
            "use bullet points, my cat is Tom",
            None,
            Some(&work),
        )
        .expect("statement");
        let clear = Observation::Clear {
            context: None,
            dimension: crate::safety::personalization::Dimension::Format,
        };
        save_observations(&s, "ana", None, None, std::slice::from_ref(&clear)).expect("obs");
        let (obs, skipped) = load_observations(&s, "ana", &envelope).expect("load");
        assert_eq!(skipped, 0);
        assert!(
            matches!(
                &obs[..],
                [Observation::SetLean { context: Some(c), .. }, Observation::Note { .. }, last]
                    if c == &work && last == &clear
            ),
            "{obs:?}"
        );
    }
}
