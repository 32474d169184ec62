//! The ConfigMaps a run writes: their names, the labels that find them again, and the timestamp
//! annotation that lets a watcher tie an event to the write that caused it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::Rng;

/// The label every object of a run carries, with the run's id as its value.
pub const RUN_LABEL: &str = "bench.hakube.io/run";
/// The label that tells the pre-created set ("seed") from the objects created during the run.
pub const SET_LABEL: &str = "bench.hakube.io/set";
/// The annotation holding the wall-clock time, in nanoseconds since the Unix epoch, at which a
/// measured write was sent. With the object's name it identifies the write in a watch event.
pub const WRITTEN_AT_ANNOTATION: &str = "bench.hakube.io/written-at";
/// The one key of each object's data.
const PAYLOAD_KEY: &str = "payload";

/// Which set an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// Pre-created before the run, for get, list and update.
    Seed,
    /// Created during the run.
    Created,
}

impl Set {
    fn name(self) -> &'static str {
        match self {
            Set::Seed => "seed",
            Set::Created => "created",
        }
    }
}

/// Names and labels of one run's objects. The id keeps two runs in one namespace apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunObjects {
    id: String,
}

impl RunObjects {
    /// A run with a fresh random id.
    pub fn random(rng: &mut impl Rng) -> RunObjects {
        RunObjects::new(random_id(rng))
    }

    /// A run with the given id (lowercase letters and digits).
    pub fn new(id: String) -> RunObjects {
        RunObjects { id }
    }

    /// The run's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace a run creates for itself when --namespace is not given.
    pub fn fresh_namespace(&self) -> String {
        format!("bench-{}", self.id)
    }

    /// The name of the `index`th pre-created object.
    pub fn seed_name(&self, index: usize) -> String {
        format!("bench-{}-seed-{index}", self.id)
    }

    /// The name of the `sequence`th object created by client `client`.
    pub fn created_name(&self, client: usize, sequence: u64) -> String {
        format!("bench-{}-c{client}-{sequence}", self.id)
    }

    /// Selects every object of the run.
    pub fn run_selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.id)
    }

    /// Selects the pre-created objects, which lists return.
    pub fn seed_selector(&self) -> String {
        format!("{RUN_LABEL}={},{SET_LABEL}={}", self.id, Set::Seed.name())
    }

    /// A ConfigMap of the run with `size` bytes of data. A measured write passes the time it is
    /// sent as `written_at`; the pre-created objects pass `None`, so watchers ignore them.
    pub fn config_map(
        &self,
        name: String,
        set: Set,
        size: usize,
        written_at: Option<u128>,
    ) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(BTreeMap::from([
                    (RUN_LABEL.to_owned(), self.id.clone()),
                    (SET_LABEL.to_owned(), set.name().to_owned()),
                ])),
                annotations: written_at.map(|nanos| {
                    BTreeMap::from([(WRITTEN_AT_ANNOTATION.to_owned(), nanos.to_string())])
                }),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                PAYLOAD_KEY.to_owned(),
                payload(size, written_at.unwrap_or(0)),
            )])),
            ..ConfigMap::default()
        }
    }
}

/// Changes an object as an update does: new data of the same size, and a new write time.
pub fn modify(object: &mut ConfigMap, size: usize, written_at: u128) {
    object
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(WRITTEN_AT_ANNOTATION.to_owned(), written_at.to_string());
    object
        .data
        .get_or_insert_with(BTreeMap::new)
        .insert(PAYLOAD_KEY.to_owned(), payload(size, written_at));
}

/// The write an object's current state comes from: its name and write time, if it was written
/// by a measured request.
pub fn write_id(object: &ConfigMap) -> Option<(&str, u128)> {
    let name = object.metadata.name.as_deref()?;
    let written_at = object
        .metadata
        .annotations
        .as_ref()?
        .get(WRITTEN_AT_ANNOTATION)?
        .parse()
        .ok()?;
    Some((name, written_at))
}

/// The wall-clock time now, in nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

/// `size` bytes of printable data that differ from one write to the next, so that an update is
/// a real change.
fn payload(size: usize, seed: u128) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let letter = LETTERS[usize::try_from(seed % LETTERS.len() as u128).unwrap_or(0)];
    String::from_utf8(vec![letter; size]).unwrap_or_default()
}

/// Five lowercase letters and digits, as the API server's generateName adds.
fn random_id(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    fn run() -> RunObjects {
        RunObjects::new("x7k2q".to_owned())
    }

    #[test]
    fn names_and_selectors() {
        let run = run();
        let cases = [
            (run.fresh_namespace(), "bench-x7k2q"),
            (run.seed_name(42), "bench-x7k2q-seed-42"),
            (run.created_name(3, 7), "bench-x7k2q-c3-7"),
            (run.run_selector(), "bench.hakube.io/run=x7k2q"),
            (
                run.seed_selector(),
                "bench.hakube.io/run=x7k2q,bench.hakube.io/set=seed",
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn random_ids_are_valid_name_parts() {
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..100 {
            let run = RunObjects::random(&mut rng);
            assert_eq!(run.id().len(), 5);
            assert!(
                run.id()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            );
        }
    }

    #[test]
    fn measured_writes_carry_their_write_time() {
        let run = run();
        let cases = [
            (Set::Created, 16, Some(1_700_000_000_123_456_789_u128)),
            (Set::Seed, 0, None),
        ];
        for (set, size, written_at) in cases {
            let object = run.config_map("cm".to_owned(), set, size, written_at);
            assert_eq!(write_id(&object), written_at.map(|nanos| ("cm", nanos)));
            let labels = object.metadata.labels.clone().unwrap_or_default();
            assert_eq!(labels.get(RUN_LABEL).map(String::as_str), Some("x7k2q"));
            assert_eq!(labels.get(SET_LABEL).map(String::as_str), Some(set.name()));
            let data = object.data.clone().unwrap_or_default();
            assert_eq!(data.get(PAYLOAD_KEY).map(String::len), Some(size));
        }
    }

    #[test]
    fn modify_changes_the_data_and_the_write_time() {
        let run = run();
        let mut object = run.config_map("cm".to_owned(), Set::Seed, 8, None);
        let before = object.data.clone();
        modify(&mut object, 8, 1001);
        assert_eq!(write_id(&object), Some(("cm", 1001)));
        assert_ne!(object.data, before);
        assert_eq!(
            object
                .data
                .as_ref()
                .and_then(|data| data.get(PAYLOAD_KEY))
                .map(String::len),
            Some(8)
        );
    }

    #[test]
    fn objects_without_a_write_time_are_not_measured() {
        let mut object = ConfigMap::default();
        assert_eq!(write_id(&object), None);
        object.metadata.name = Some("cm".to_owned());
        object.metadata.annotations = Some(BTreeMap::from([(
            WRITTEN_AT_ANNOTATION.to_owned(),
            "not a number".to_owned(),
        )]));
        assert_eq!(write_id(&object), None);
    }
}
