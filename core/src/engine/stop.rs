//! Stop sequences over a stream of text. Text that might be the start of a stop sequence is
//! held back until it is either confirmed (generation stops; the stop text is never emitted)
//! or ruled out (it is released).

/// Finds stop sequences in streamed text.
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

/// What the matcher says after a piece of text.
#[derive(Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// Keep going; this text may be shown.
    Continue(String),
    /// A stop sequence was found; this text (before it) is the last to show.
    Stopped(String),
}

impl StopMatcher {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Add `text`.
    pub fn push(&mut self, text: &str) -> StopOutcome {
        if self.stops.is_empty() {
            return StopOutcome::Continue(text.to_owned());
        }
        self.held.push_str(text);
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let before = self.held[..at].to_owned();
            self.held.clear();
            return StopOutcome::Stopped(before);
        }
        let keep = self.longest_partial_suffix();
        let release_to = self.held.len() - keep;
        let released = self.held[..release_to].to_owned();
        self.held.drain(..release_to);
        StopOutcome::Continue(released)
    }

    /// End of stream: release what was held.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The length of the longest suffix of `held` that is a proper prefix of a stop sequence,
    /// always on a character boundary.
    fn longest_partial_suffix(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            for (i, _) in stop.char_indices().skip(1) {
                let prefix = &stop[..i];
                if i > best && self.held.ends_with(prefix) {
                    best = i;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                StopOutcome::Continue(t) => out.push_str(&t),
                StopOutcome::Stopped(t) => {
                    out.push_str(&t);
                    return (out, true);
                }
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn a_stop_split_across_pieces_is_found_and_not_emitted() {
        assert_eq!(
            run(&["\nUser:"], &["Hi", " there\nUs", "er: more"]),
            ("Hi there".into(), true)
        );
    }

    #[test]
    fn a_near_miss_is_released() {
        assert_eq!(
            run(&["STOP"], &["ST", "OK", " fine"]),
            ("STOK fine".into(), false)
        );
    }

    #[test]
    fn no_stops_passes_everything() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    #[test]
    fn multibyte_stop_prefixes_stay_on_char_boundaries() {
        assert_eq!(run(&["日本"], &["x日", "y"]), ("x日y".into(), false));
        assert_eq!(run(&["日本"], &["x日", "本"]), ("x".into(), true));
    }
}
