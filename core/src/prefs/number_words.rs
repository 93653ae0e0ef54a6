//! Whole numbers in English words ("fifty", "two hundred and thirty"), for instructions to the
//! model: a small model told "about 50 words" can start counting ("1. 1. 1.1.2 …") instead of
//! answering, and told "about fifty words" it answers (measured, ADR 0035).

const SMALL: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// `n` in words (British style, "and" after the hundreds); digits from 1,000 on.
pub fn in_words(n: u32) -> String {
    match n {
        0..=19 => SMALL[n as usize].to_owned(),
        20..=99 => {
            let tens = TENS[(n / 10) as usize];
            match n % 10 {
                0 => tens.to_owned(),
                units => format!("{tens}-{}", SMALL[units as usize]),
            }
        }
        100..=999 => {
            let hundreds = format!("{} hundred", SMALL[(n / 100) as usize]);
            match n % 100 {
                0 => hundreds,
                rest => format!("{hundreds} and {}", in_words(rest)),
            }
        }
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn numbers_are_spelled_out() {
        assert_eq!(in_words(0), "zero");
        assert_eq!(in_words(13), "thirteen");
        assert_eq!(in_words(30), "thirty");
        assert_eq!(in_words(45), "forty-five");
        assert_eq!(in_words(100), "one hundred");
        assert_eq!(in_words(230), "two hundred and thirty");
        assert_eq!(in_words(999), "nine hundred and ninety-nine");
        assert_eq!(in_words(1200), "1200");
    }
}
