//! Request decoding must never panic: whatever the bytes, each decoder returns a value or a `Status`.
//! The first byte picks the decoder, the rest is the body.
//! Run: `cargo fuzz run decode_request` (in this directory; needs cargo-fuzz and a nightly-capable rustc).

#![no_main]

use libfuzzer_sys::fuzz_target;
use themelios_api::Kind;
use themelios_apiserver::http::decode::{decode_object, object_format, to_value, FieldValidation, Format};
use themelios_apiserver::auth::tokens;
use themelios_apiserver::http::{path, protobuf};
use themelios_apiserver::patch::{json_patch, merge, strategic};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let kind = Kind::ALL[usize::from(selector) % Kind::ALL.len()];
    match selector % 5 {
        0 => {
            let _ = protobuf::decode(body).map(|value| decode_object(value, kind, FieldValidation::Strict));
        }
        1 | 2 => {
            let format = if selector % 5 == 1 { Format::Json } else { Format::Yaml };
            if let Ok(value) = to_value(body, format) {
                let _ = decode_object(value, kind, FieldValidation::Strict);
            }
        }
        3 => {
            // What a client controls before any body: the path, and a bearer token checked as a JWT.
            if let Ok(text) = std::str::from_utf8(body) {
                let _ = path::parse(text);
                let point = [4u8; 65];
                let _ = tokens::verify(&point, text);
            }
        }
        _ => {
            // A patch against a fixed document, with every engine.
            if let Ok(patch) = serde_json::from_slice::<serde_json::Value>(body) {
                let mut doc = serde_json::json!({"metadata": {"name": "x", "labels": {"a": "b"}},
                    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
                let _ = json_patch::apply(&mut doc.clone(), &patch);
                let _ = strategic::apply(&mut doc.clone(), &patch, "io.k8s.api.apps.v1.Deployment");
                merge::apply(&mut doc, &patch);
            }
        }
    }
    let _ = object_format(std::str::from_utf8(body).ok());
});
