//! The strict JSON reader under [`super::Body::parse`]: `serde_json`'s own parser (its recursion limit
//! of 128 included) building the same [`Value`], except that an object naming a key twice
//! (`duplicate_key`) or a string or key holding U+0000 (`nul_character`) is refused. `serde_json::Value`
//! itself keeps the last of two equal keys, silently; for a receipt that would pick one of two amounts.

use std::cell::Cell;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// What a strict read refuses that plain JSON allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// An object names a key twice.
    DuplicateKey,
    /// A string or key holds U+0000.
    Nul,
}

impl Fault {
    const fn code(self) -> &'static str {
        match self {
            Self::DuplicateKey => "duplicate_key",
            Self::Nul => "nul_character",
        }
    }
}

/// One JSON document as a [`Value`], read as `serde_json` reads it (its recursion limit included) but
/// refusing duplicate keys and U+0000 ([`Fault`]); anything else unreadable is `malformed_json`.
pub(super) fn read(raw: &[u8]) -> Result<Value> {
    let fault = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(raw);
    let read = Strict(&fault).deserialize(&mut de).and_then(|value| de.end().map(|()| value));
    read.map_err(|e| match fault.get() {
        Some(f) => Error::bad_request(f.code(), e.to_string()),
        None => Error::bad_request("malformed_json", e.to_string()),
    })
}

/// Reads one value (and, recursively, what it holds), noting a [`Fault`] in the cell before failing.
#[derive(Clone, Copy)]
struct Strict<'a>(&'a Cell<Option<Fault>>);

impl Strict<'_> {
    fn refuse<E: serde::de::Error>(self, fault: Fault, message: std::fmt::Arguments<'_>) -> E {
        self.0.set(Some(fault));
        E::custom(message)
    }

    fn text<E: serde::de::Error>(self, what: &str, text: &str) -> core::result::Result<(), E> {
        if text.contains('\0') {
            return Err(self.refuse(Fault::Nul, format_args!("a {what} holds U+0000")));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> core::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> core::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> core::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> core::result::Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> core::result::Result<Value, E> {
        // As `serde_json::Value` reads it (JSON text has no NaN or infinity).
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> core::result::Result<Value, E> {
        self.text("string", v)?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> core::result::Result<Value, E> {
        self.text("string", &v)?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> core::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> core::result::Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.text("key", &key)?;
            if object.contains_key(&key) {
                return Err(
                    self.refuse(Fault::DuplicateKey, format_args!("the key `{key}` appears twice in an object"))
                );
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}
