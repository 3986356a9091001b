//! Wire protocols: decoding requests into actions' inputs and encoding their outputs and
//! errors. No I/O here.

pub mod json;
pub mod query;
pub mod query_json;

/// Serde helper for optional binary fields, which both protocols carry as base64.
pub mod base64_opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            STANDARD
                .decode(t.as_bytes())
                .map_err(|_| serde::de::Error::custom("BinaryValue is not valid base64"))
        })
        .transpose()
    }
}
