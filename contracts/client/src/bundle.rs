//! The `.contract` bundle cargo-contract writes: Wasm code plus ink! metadata (selectors, events).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// A contract's code and the parts of its metadata the client needs.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The Wasm code.
    pub wasm: Vec<u8>,
    /// Constructor and message selectors by label.
    selectors: HashMap<String, [u8; 4]>,
    /// Event labels by signature topic.
    events: HashMap<[u8; 32], String>,
}

#[derive(Deserialize)]
struct Raw {
    source: RawSource,
    spec: RawSpec,
}
#[derive(Deserialize)]
struct RawSource {
    wasm: String,
}
#[derive(Deserialize)]
struct RawSpec {
    constructors: Vec<RawCallable>,
    messages: Vec<RawCallable>,
    events: Vec<RawEvent>,
}
#[derive(Deserialize)]
struct RawCallable {
    label: String,
    selector: String,
}
#[derive(Deserialize)]
struct RawEvent {
    label: String,
    signature_topic: Option<String>,
}

fn unhex<const N: usize>(s: &str) -> Result<[u8; N]> {
    let bytes = hex::decode(s.trim_start_matches("0x")).map_err(|e| Error::Bundle(format!("{s}: {e}")))?;
    bytes.try_into().map_err(|_| Error::Bundle(format!("{s}: expected {N} bytes")))
}

impl Bundle {
    /// Reads a `.contract` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Bundle(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses the JSON of a `.contract` file.
    pub fn parse(json: &str) -> Result<Self> {
        let raw: Raw = serde_json::from_str(json).map_err(|e| Error::Bundle(e.to_string()))?;
        let wasm = hex::decode(raw.source.wasm.trim_start_matches("0x")).map_err(|e| Error::Bundle(e.to_string()))?;
        let mut selectors = HashMap::new();
        for c in raw.spec.constructors.iter().chain(&raw.spec.messages) {
            selectors.insert(c.label.clone(), unhex::<4>(&c.selector)?);
        }
        let mut events = HashMap::new();
        for e in raw.spec.events {
            if let Some(topic) = e.signature_topic {
                events.insert(unhex::<32>(&topic)?, e.label);
            }
        }
        Ok(Self { wasm, selectors, events })
    }

    /// The selector of a constructor or message.
    pub fn selector(&self, label: &str) -> Result<[u8; 4]> {
        self.selectors.get(label).copied().ok_or_else(|| Error::Bundle(format!("no message or constructor `{label}`")))
    }

    /// Call data: the selector of `label` followed by the SCALE-encoded arguments.
    pub fn call_data(&self, label: &str, args: impl scale::Encode) -> Result<Vec<u8>> {
        let mut data = self.selector(label)?.to_vec();
        args.encode_to(&mut data);
        Ok(data)
    }

    /// The label of the event with this signature topic.
    #[must_use]
    pub fn event_label(&self, signature_topic: &[u8; 32]) -> Option<&str> {
        self.events.get(signature_topic).map(String::as_str)
    }
}
