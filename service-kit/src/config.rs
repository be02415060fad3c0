//! One loader for every service's configuration, in layers, each overriding the one before:
//!
//! 1. the built-in defaults (`Default` of the service's config);
//! 2. a TOML file, if one is given (`--config FILE`);
//! 3. the variables every part of the project reads under one name: `ESCROW_NODE_URL` (`node_url`),
//!    `ESCROW_CONTRACT` (`contract`) and `ESCROW_BUNDLE` (`bundle`), the same the CLI reads;
//! 4. the service's own variables, `PREFIX__KEY` (`GATEWAY__NODE_URL`, `INDEXER__BATCH_BLOCKS`, ...).
//!
//! Unknown keys are refused at every layer (the service's config denies unknown fields), and so is U+0000
//! in any key or string (TOML can spell it, `\u0000`): no setting means it, and what reads the settings
//! underneath (file paths, the Postgres startup message) would cut the value short at it.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Value;
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The shared variables and the key each sets.
pub const SHARED_VARIABLES: [(&str, &str); 3] =
    [("ESCROW_NODE_URL", "node_url"), ("ESCROW_CONTRACT", "contract"), ("ESCROW_BUNDLE", "bundle")];

/// The layers for a configuration `T` whose own variables start with `prefix` (`GATEWAY__`), with
/// `file` as the TOML layer; [`load`] extracts them.
fn figment<T: Serialize + Default>(prefix: &str, file: Option<&Path>) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    let shared = Env::raw().filter_map(|name| {
        SHARED_VARIABLES.iter().find(|(var, _)| name.as_str() == *var).map(|(_, key)| (*key).into())
    });
    figment.merge(shared).merge(Env::prefixed(prefix).split("__"))
}

/// Loads `T` from its layers; the error names the key and the layer that set it.
pub fn load<T: Serialize + Default + DeserializeOwned>(
    prefix: &str,
    file: Option<&Path>,
) -> Result<T, Box<figment::Error>> {
    let figment = figment::<T>(prefix, file);
    let merged = figment.find_value("").map_err(Box::new)?;
    refuse_nul(&figment, &merged, "")?;
    figment.extract().map_err(Box::new)
}

/// The first key or string under `value` (at `path`) holding U+0000, as an error naming it and its layer.
fn refuse_nul(figment: &Figment, value: &Value, path: &str) -> Result<(), Box<figment::Error>> {
    let refuse = |path: &str| {
        let mut e = figment::Error::from("holds U+0000 (NUL)".to_string()).with_path(path);
        e.metadata = figment.get_metadata(value.tag()).cloned();
        Box::new(e)
    };
    match value {
        Value::String(_, text) if text.contains('\0') => Err(refuse(path)),
        Value::Char(_, '\0') => Err(refuse(path)),
        Value::Dict(_, dict) => dict.iter().try_for_each(|(key, item)| {
            let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if key.contains('\0') {
                return Err(refuse(&at.replace('\0', "\\0")));
            }
            refuse_nul(figment, item, &at)
        }),
        Value::Array(_, items) => items.iter().try_for_each(|item| refuse_nul(figment, item, path)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        node_url: String,
        contract: String,
        bundle: String,
        batch: u32,
    }

    #[test]
    fn layers_override_in_order_and_unknown_keys_are_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let loaded: Demo = load("DEMO__", None).map_err(|e| *e)?;
            assert_eq!(loaded, Demo::default());

            jail.create_file("demo.toml", "node_url = \"ws://file\"\nbatch = 3\ncontract = \"file\"")?;
            let file = Some(Path::new("demo.toml"));
            let loaded: Demo = load("DEMO__", file).map_err(|e| *e)?;
            assert_eq!((loaded.node_url.as_str(), loaded.batch, loaded.contract.as_str()), ("ws://file", 3, "file"));

            jail.set_env("ESCROW_NODE_URL", "ws://shared");
            jail.set_env("ESCROW_BUNDLE", "shared.contract");
            let loaded: Demo = load("DEMO__", file).map_err(|e| *e)?;
            assert_eq!((loaded.node_url.as_str(), loaded.bundle.as_str()), ("ws://shared", "shared.contract"));

            jail.set_env("DEMO__NODE_URL", "ws://own");
            jail.set_env("DEMO__BATCH", "9");
            let loaded: Demo = load("DEMO__", file).map_err(|e| *e)?;
            assert_eq!((loaded.node_url.as_str(), loaded.batch), ("ws://own", 9));

            jail.set_env("DEMO__NO_SUCH_KEY", "1");
            let refused = load::<Demo>("DEMO__", file).expect_err("an unknown key is refused");
            assert!(refused.to_string().contains("no_such_key"), "{refused}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_or_a_bad_value_is_an_error() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            assert!(load::<Demo>("DEMO__", Some(Path::new("absent.toml"))).is_err());
            jail.set_env("DEMO__BATCH", "many");
            assert!(load::<Demo>("DEMO__", None).is_err());
            Ok(())
        });
    }
}
