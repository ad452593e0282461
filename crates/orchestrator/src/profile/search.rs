//! Finding profiles by keyword: rank installed profiles against a free-text query over their
//! metadata (name, description, `tags`, `capabilities`), never their prompt body.
//!
//! The order is CAO's: first by coverage (how many distinct query words a profile matches),
//! then by a BM25+ score as the tie-break, then by name. The reported `score` is
//! `coverage + bm25 / (1 + best bm25)`, so a higher score always means a better rank.

use serde::Serialize;

use super::{AgentProfile, ProfileCatalog, ProfileSource};

/// How many matches `find_profiles` returns when the caller does not say.
pub const DEFAULT_LIMIT: usize = 10;

// BM25+ constants (the usual ones; rank_bm25's defaults, which CAO uses).
const K1: f64 = 1.5;
const B: f64 = 0.75;
const DELTA: f64 = 1.0;

/// One ranked profile, metadata only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileMatch {
    pub name: String,
    pub description: String,
    pub capabilities: Vec<String>,
    pub tags: Vec<String>,
    pub role: Option<String>,
    pub source: ProfileSource,
    /// Distinct query words the profile matched.
    pub coverage: usize,
    /// `coverage` plus a BM25 tie-break below 1, rounded to 4 decimals.
    pub score: f64,
}

/// What a profile is searchable by.
#[derive(Debug, Clone, PartialEq)]
pub struct Searchable {
    pub name: String,
    pub description: String,
    pub capabilities: Vec<String>,
    pub tags: Vec<String>,
    pub role: Option<String>,
    pub source: ProfileSource,
}

impl Searchable {
    /// The searchable fields of a parsed profile (`tags` and `capabilities` are CAO
    /// pass-through keys: lists of strings, anything else is ignored).
    pub fn of(profile: &AgentProfile, source: ProfileSource) -> Searchable {
        let strings = |key: &str| -> Vec<String> {
            match profile.extra.get(key) {
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|item| match item {
                        serde_json::Value::String(text) => Some(text.clone()),
                        serde_json::Value::Number(number) => Some(number.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        Searchable {
            name: profile.name.clone(),
            description: profile.description.clone(),
            capabilities: strings("capabilities"),
            tags: strings("tags"),
            role: profile.role.clone(),
            source,
        }
    }

    fn words(&self) -> Vec<String> {
        let mut text = format!("{} {}", self.name, self.description);
        for item in self.tags.iter().chain(&self.capabilities) {
            text.push(' ');
            text.push_str(item);
        }
        words(&text)
    }
}

/// Lower-case ASCII alphanumeric runs; everything else separates words.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Ranks `profiles` against `query`; profiles sharing no word with it are left out.
pub fn rank(query: &str, profiles: &[Searchable], limit: usize) -> Vec<ProfileMatch> {
    let mut query_words = words(query);
    query_words.sort();
    query_words.dedup();
    if query_words.is_empty() || limit == 0 || profiles.is_empty() {
        return Vec::new();
    }
    let documents: Vec<Vec<String>> = profiles.iter().map(Searchable::words).collect();
    let count = documents.len() as f64;
    let average_length = documents.iter().map(Vec::len).sum::<usize>() as f64 / count.max(1.0);
    if average_length == 0.0 {
        return Vec::new();
    }
    let bm25 = |document: &[String]| -> f64 {
        let length = document.len() as f64;
        query_words
            .iter()
            .map(|word| {
                let holders = documents.iter().filter(|doc| doc.contains(word)).count() as f64;
                let idf = ((count + 1.0) / holders.max(1.0)).ln();
                let frequency = document.iter().filter(|w| *w == word).count() as f64;
                idf * (DELTA
                    + frequency * (K1 + 1.0)
                        / (K1 * (1.0 - B + B * length / average_length) + frequency))
            })
            .sum()
    };
    let mut matched: Vec<(&Searchable, usize, f64)> = profiles
        .iter()
        .zip(&documents)
        .filter_map(|(profile, document)| {
            let coverage = query_words
                .iter()
                .filter(|word| document.contains(word))
                .count();
            (coverage > 0).then(|| (profile, coverage, bm25(document)))
        })
        .collect();
    matched.sort_by(|left, right| {
        right
            .1
            .cmp(&left.1)
            .then(right.2.total_cmp(&left.2))
            .then_with(|| left.0.name.cmp(&right.0.name))
    });
    let best = matched.iter().map(|m| m.2).fold(0.0, f64::max);
    matched
        .into_iter()
        .take(limit)
        .map(|(profile, coverage, score)| ProfileMatch {
            name: profile.name.clone(),
            description: profile.description.clone(),
            capabilities: profile.capabilities.clone(),
            tags: profile.tags.clone(),
            role: profile.role.clone(),
            source: profile.source,
            coverage,
            score: round4(coverage as f64 + score / (1.0 + best)),
        })
        .collect()
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

impl ProfileCatalog {
    /// The installed profiles that match `query`, best first (see the module docs). Profiles
    /// that do not load are left out: recommending one would make the next handoff fail.
    pub fn search(&self, query: &str, limit: usize) -> Vec<ProfileMatch> {
        let searchable: Vec<Searchable> = self
            .list()
            .into_iter()
            .filter_map(|summary| {
                let (profile, found) = self.locate(&summary.name).ok()?;
                Some(Searchable::of(&profile, found.source))
            })
            .collect();
        rank(query, &searchable, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, description: &str, tags: &[&str]) -> Searchable {
        Searchable {
            name: name.into(),
            description: description.into(),
            capabilities: Vec::new(),
            tags: tags.iter().map(|tag| tag.to_string()).collect(),
            role: None,
            source: ProfileSource::Local,
        }
    }

    #[test]
    fn words_are_lowercase_alphanumeric_runs() {
        assert_eq!(
            words("Monitor SQS-queues, v2!"),
            ["monitor", "sqs", "queues", "v2"]
        );
        assert!(words("  --  ").is_empty());
    }

    #[test]
    fn more_query_words_matched_always_ranks_first() {
        let profiles = [
            profile("sqs_watcher", "monitor sqs sqs sqs queues", &[]),
            profile("ops", "monitor dashboards and deploys", &["sqs"]),
            profile("writer", "writes docs", &[]),
        ];
        let found = rank("monitor sqs deploys", &profiles, 10);
        let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ops", "sqs_watcher"]);
        assert_eq!(found[0].coverage, 3);
        assert_eq!(found[1].coverage, 2);
        assert!(found[0].score > found[1].score);
        assert!(found[0].score >= 3.0 && found[0].score < 4.0);
    }

    #[test]
    fn ties_on_coverage_go_to_bm25_then_name() {
        let profiles = [
            profile("b_reviewer", "reviews code", &[]),
            profile("a_reviewer", "reviews code", &[]),
            profile(
                "long",
                "reviews many other things at great length here",
                &[],
            ),
        ];
        let found = rank("reviews", &profiles, 10);
        let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a_reviewer", "b_reviewer", "long"]);
    }

    #[test]
    fn empty_queries_limits_and_misses_find_nothing() {
        let profiles = [profile("developer", "writes code", &[])];
        assert!(rank("", &profiles, 10).is_empty());
        assert!(rank("code", &profiles, 0).is_empty());
        assert!(rank("kubernetes", &profiles, 10).is_empty());
        assert_eq!(rank("CODE", &profiles, 10).len(), 1);
    }

    #[test]
    fn the_builtins_are_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = ProfileCatalog::with_dirs(dir.path(), Vec::new(), Vec::new());
        let found = catalog.search("reviews code", DEFAULT_LIMIT);
        assert_eq!(
            found.first().map(|m| m.name.as_str()),
            Some("reviewer"),
            "{found:?}"
        );
        assert_eq!(found[0].source, ProfileSource::Builtin);
    }
}
