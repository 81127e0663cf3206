//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`): the `k8s\0` envelope around a
//! `runtime.Unknown`, whose `raw` bytes are the object's message. Messages are decoded to JSON by the
//! generated schema table (field numbers, wire types, JSON names), so every kind decodes without
//! hand-written conversions; the JSON then takes the same path as a JSON body.

use crate::schema::{schema, ProtoField, Wire};
use base64::Engine;
use serde_json::{Map, Value};
use themelios_api::{ApiError, Reason};

/// The magic bytes that start a Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

/// A reader over protobuf wire format.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Result<T> = std::result::Result<T, String>;

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or("truncated varint")?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or("truncated field")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn length_delimited(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.varint()?).map_err(|_| "length overflows")?;
        self.take(n)
    }
    /// Skips a field of `wire_type` it does not know.
    fn skip(&mut self, wire_type: u64) -> Result<()> {
        match wire_type {
            0 => self.varint().map(|_| ()),
            1 => self.take(8).map(|_| ()),
            2 => self.length_delimited().map(|_| ()),
            5 => self.take(4).map(|_| ()),
            other => Err(format!("unsupported wire type {other}")),
        }
    }
}

/// Decodes a protobuf body into the JSON of the object it carries (with `apiVersion` and `kind`).
///
/// ```
/// use themelios_apiserver::http::protobuf::decode;
/// assert!(decode(b"not protobuf").is_err());
/// ```
pub fn decode(body: &[u8]) -> std::result::Result<Value, ApiError> {
    let bad = |detail: String| ApiError::bad_request(format!("error decoding protobuf body: {detail}"));
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        bad("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]".into())
    })?;
    let (api_version, kind, raw) = unknown(envelope).map_err(bad)?;
    let definition = definition_for(&api_version, &kind).ok_or_else(|| {
        ApiError::new(Reason::UnsupportedMediaType, format!("no protobuf decoding for {api_version}, Kind={kind}"))
    })?;
    let mut object = message(raw, &definition, 0).map_err(bad)?;
    if let Value::Object(map) = &mut object {
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), kind.into());
    }
    Ok(object)
}

/// The `runtime.Unknown` envelope: type meta and raw message.
fn unknown(bytes: &[u8]) -> Result<(String, String, &[u8])> {
    let mut reader = Reader::new(bytes);
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while !reader.done() {
        let key = reader.varint()?;
        match (key >> 3, key & 7) {
            (1, 2) => {
                let mut meta = Reader::new(reader.length_delimited()?);
                while !meta.done() {
                    let key = meta.varint()?;
                    match (key >> 3, key & 7) {
                        (1, 2) => api_version = utf8(meta.length_delimited()?)?,
                        (2, 2) => kind = utf8(meta.length_delimited()?)?,
                        (_, wire) => meta.skip(wire)?,
                    }
                }
            }
            (2, 2) => raw = reader.length_delimited()?,
            (_, wire) => reader.skip(wire)?,
        }
    }
    if kind.is_empty() {
        return Err("the envelope names no kind".into());
    }
    Ok((api_version, kind, raw))
}

fn utf8(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string field is not UTF-8".to_string())
}

/// The schema definition of `apiVersion`/`kind`: an API type, or a meta/v1 type such as DeleteOptions.
fn definition_for(api_version: &str, kind: &str) -> Option<String> {
    let (group, version) = api_version.split_once('/').unwrap_or(("core", api_version));
    let group = group.split('.').next().unwrap_or(group);
    [format!("io.k8s.api.{group}.{version}.{kind}"), format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}")]
        .into_iter()
        .find(|name| schema().definition(name).is_some())
}

const MAX_DEPTH: usize = 64;

/// Decodes one message of `definition` to JSON.
fn message(bytes: &[u8], definition: &str, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err("messages nested too deeply".into());
    }
    match definition {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time" | "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => {
            return time(bytes, definition.ends_with("MicroTime"))
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => return first_string(bytes),
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => return int_or_string(bytes),
        "io.k8s.apimachinery.pkg.runtime.RawExtension" | "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            return raw_json(bytes)
        }
        _ => {}
    }
    let Some(schema_definition) = schema().definition(definition) else {
        return Err(format!("no schema for {definition}"));
    };
    let mut out = Map::new();
    let mut reader = Reader::new(bytes);
    while !reader.done() {
        let key = reader.varint()?;
        let (tag, wire_type) = ((key >> 3) as u32, key & 7);
        let Some(field) = schema_definition.proto.get(&tag) else {
            reader.skip(wire_type)?;
            continue;
        };
        field_value(&mut reader, wire_type, field, &mut out, depth)?;
    }
    Ok(Value::Object(out))
}

fn field_value(
    reader: &mut Reader<'_>,
    wire_type: u64,
    field: &ProtoField,
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<()> {
    // A packed repeated scalar (wire type 2 for a numeric field).
    if field.repeated && wire_type == 2 && matches!(field.wire, Wire::Int32 | Wire::Int64 | Wire::Bool) {
        let mut packed = Reader::new(reader.length_delimited()?);
        while !packed.done() {
            let value = scalar_varint(packed.varint()?, field.wire);
            push(out, &field.name, value);
        }
        return Ok(());
    }
    let value = match field.wire {
        Wire::String => Value::String(utf8(reader.length_delimited()?)?),
        Wire::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(reader.length_delimited()?)),
        Wire::Bool | Wire::Int32 | Wire::Int64 => scalar_varint(reader.varint()?, field.wire),
        Wire::Double => {
            let bytes: [u8; 8] = reader.take(8)?.try_into().map_err(|_| "bad double")?;
            serde_json::Number::from_f64(f64::from_le_bytes(bytes)).map_or(Value::Null, Value::Number)
        }
        Wire::Message => {
            let ty = field.ty.as_deref().ok_or("a message field without a type")?;
            let nested = message(reader.length_delimited()?, ty, depth + 1)?;
            if field.inline {
                if let Value::Object(fields) = nested {
                    out.extend(fields);
                }
                return Ok(());
            }
            nested
        }
        Wire::Map => {
            let (key, value) = map_entry(reader.length_delimited()?, field, depth)?;
            let entry = out.entry(field.name.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key, value);
            }
            return Ok(());
        }
    };
    if field.repeated {
        push(out, &field.name, value);
    } else if value != Value::String(String::new()) && !value.is_null() {
        // gogo writes every non-pointer field; an empty string is how Go spells "unset".
        out.insert(field.name.clone(), value);
    }
    Ok(())
}

fn push(out: &mut Map<String, Value>, name: &str, value: Value) {
    let entry = out.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = entry {
        items.push(value);
    }
}

fn scalar_varint(raw: u64, wire: Wire) -> Value {
    match wire {
        Wire::Bool => Value::Bool(raw != 0),
        Wire::Int32 => Value::from(raw as i64 as i32),
        _ => Value::from(raw as i64),
    }
}

fn map_entry(bytes: &[u8], field: &ProtoField, depth: usize) -> Result<(String, Value)> {
    let (mut key, mut value) = (String::new(), Value::Null);
    each_field(bytes, |tag, wire, reader| {
        match (tag, wire) {
            (1, 2) => key = utf8(reader.length_delimited()?)?,
            (2, 2) => {
                let bytes = reader.length_delimited()?;
                value = match (field.value, field.ty.as_deref()) {
                    (Some(Wire::Message), Some(ty)) => message(bytes, ty, depth + 1)?,
                    (Some(Wire::Bytes), _) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                    _ => Value::String(utf8(bytes)?),
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if value.is_null() {
        value = match field.value {
            Some(Wire::Message) => Value::Object(Map::new()),
            _ => Value::String(String::new()),
        };
    }
    Ok((key, value))
}

/// Calls `on_field(field number, wire type, reader)` for each field of a message; a field it does not
/// consume (it returns `false`) is skipped.
fn each_field<'a>(bytes: &'a [u8], mut on_field: impl FnMut(u64, u64, &mut Reader<'a>) -> Result<bool>) -> Result<()> {
    let mut reader = Reader::new(bytes);
    while !reader.done() {
        let key = reader.varint()?;
        let (tag, wire) = (key >> 3, key & 7);
        if !on_field(tag, wire, &mut reader)? {
            reader.skip(wire)?;
        }
    }
    Ok(())
}

fn time(bytes: &[u8], micro: bool) -> Result<Value> {
    let (mut seconds, mut nanos) = (0i64, 0i64);
    each_field(bytes, |tag, wire, reader| {
        match (tag, wire) {
            (1, 0) => seconds = reader.varint()? as i64,
            (2, 0) => nanos = reader.varint()? as i64,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if seconds == 0 && nanos == 0 {
        // A zero Time is Go's "unset": JSON null.
        return Ok(Value::Null);
    }
    let timestamp = k8s_openapi::jiff::Timestamp::new(seconds, nanos as i32).map_err(|e| e.to_string())?;
    let format = if micro { "%Y-%m-%dT%H:%M:%S.%6fZ" } else { "%Y-%m-%dT%H:%M:%SZ" };
    Ok(Value::String(timestamp.strftime(format).to_string()))
}

/// The message's field 1 as a string (a Quantity).
fn first_string(bytes: &[u8]) -> Result<Value> {
    let mut out = Value::Null;
    each_field(bytes, |tag, wire, reader| {
        if (tag, wire) != (1, 2) {
            return Ok(false);
        }
        out = Value::String(utf8(reader.length_delimited()?)?);
        Ok(true)
    })?;
    Ok(out)
}

fn int_or_string(bytes: &[u8]) -> Result<Value> {
    let (mut is_string, mut int, mut string) = (false, 0i64, String::new());
    each_field(bytes, |tag, wire, reader| {
        match (tag, wire) {
            (1, 0) => is_string = reader.varint()? == 1,
            (2, 0) => int = i64::from(reader.varint()? as i64 as i32),
            (3, 2) => string = utf8(reader.length_delimited()?)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(if is_string { Value::String(string) } else { Value::from(int) })
}

/// The message's field 1 as embedded JSON (RawExtension, FieldsV1).
fn raw_json(bytes: &[u8]) -> Result<Value> {
    let mut out = Value::Null;
    each_field(bytes, |tag, wire, reader| {
        if (tag, wire) != (1, 2) {
            return Ok(false);
        }
        let raw = reader.length_delimited()?;
        if !raw.is_empty() {
            out = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        }
        Ok(true)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal protobuf writer for the tests: (tag, bytes) as length-delimited, (tag, n) as varint.
    fn varint(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn bytes_field(tag: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(tag << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }
    fn varint_field(tag: u64, n: u64, out: &mut Vec<u8>) {
        varint(tag << 3, out);
        varint(n, out);
    }
    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut meta = Vec::new();
        bytes_field(1, api_version.as_bytes(), &mut meta);
        bytes_field(2, kind.as_bytes(), &mut meta);
        let mut unknown = Vec::new();
        bytes_field(1, &meta, &mut unknown);
        bytes_field(2, raw, &mut unknown);
        bytes_field(3, b"", &mut unknown);
        bytes_field(4, b"", &mut unknown);
        let mut body = MAGIC.to_vec();
        body.extend(unknown);
        body
    }

    /// `kubectl create deployment web --image nginx --replicas 3`, as kubectl's typed client encodes it.
    #[test]
    fn a_deployment_decodes_to_its_json() {
        let mut labels_entry = Vec::new();
        bytes_field(1, b"app", &mut labels_entry);
        bytes_field(2, b"web", &mut labels_entry);
        let mut meta = Vec::new();
        bytes_field(1, b"web", &mut meta);
        bytes_field(2, b"", &mut meta); // generateName, written although empty
        bytes_field(8, &[], &mut meta); // creationTimestamp: zero Time
        bytes_field(11, &labels_entry, &mut meta);
        let mut container = Vec::new();
        bytes_field(1, b"nginx", &mut container);
        bytes_field(2, b"nginx", &mut container);
        bytes_field(8, &[], &mut container); // resources: {}
        let mut pod_spec = Vec::new();
        bytes_field(2, &container, &mut pod_spec);
        let mut template_meta = Vec::new();
        bytes_field(11, &labels_entry, &mut template_meta);
        let mut template = Vec::new();
        bytes_field(1, &template_meta, &mut template);
        bytes_field(2, &pod_spec, &mut template);
        let mut selector = Vec::new();
        bytes_field(1, &labels_entry, &mut selector);
        let mut spec = Vec::new();
        varint_field(1, 3, &mut spec);
        bytes_field(2, &selector, &mut spec);
        bytes_field(3, &template, &mut spec);
        varint_field(7, 0, &mut spec); // paused: false
        let mut deployment = Vec::new();
        bytes_field(1, &meta, &mut deployment);
        bytes_field(2, &spec, &mut deployment);
        let decoded = decode(&envelope("apps/v1", "Deployment", &deployment)).unwrap();
        assert_eq!(
            decoded,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"replicas": 3, "paused": false, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}}}})
        );
    }

    #[test]
    fn secrets_bytes_become_base64_and_int_or_string_and_quantities_decode() {
        let mut entry = Vec::new();
        bytes_field(1, b"k", &mut entry);
        bytes_field(2, b"\x00\x01", &mut entry);
        let mut secret = Vec::new();
        bytes_field(2, &entry, &mut secret);
        let decoded = decode(&envelope("v1", "Secret", &secret)).unwrap();
        assert_eq!(decoded["data"], json!({"k": "AAE="}));

        let mut int_or_string = Vec::new();
        varint_field(1, 1, &mut int_or_string);
        bytes_field(3, b"25%", &mut int_or_string);
        let mut rolling = Vec::new();
        bytes_field(2, &int_or_string, &mut rolling);
        let mut strategy = Vec::new();
        bytes_field(2, &rolling, &mut strategy);
        let mut spec = Vec::new();
        bytes_field(4, &strategy, &mut spec);
        let mut deployment = Vec::new();
        bytes_field(2, &spec, &mut deployment);
        let decoded = decode(&envelope("apps/v1", "Deployment", &deployment)).unwrap();
        assert_eq!(decoded["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    }

    proptest::proptest! {
        /// Arbitrary bytes behind the magic (and arbitrary raw messages of every served kind) decode to a
        /// value or an error, never a panic; the fuzz target in `fuzz/` explores the same property deeper.
        #[test]
        fn arbitrary_bodies_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), which in 0usize..22) {
            let mut body = MAGIC.to_vec();
            body.extend(&raw);
            let _ = decode(&body);
            let kind = themelios_api::Kind::ALL[which % themelios_api::Kind::ALL.len()];
            let _ = decode(&envelope(kind.api_version(), kind.name(), &raw));
        }
    }

    #[test]
    fn malformed_bodies_are_bad_requests_not_panics() {
        for body in [&b"k8s\0\x0a\xff\xff"[..], b"k8s\0\x12\x05ab", b"k8s\0", b"{}", b"k8s\0\x0f"] {
            let err = decode(body).unwrap_err();
            assert_eq!(err.reason, Reason::BadRequest, "{body:?}: {}", err.message);
        }
        let err = decode(&envelope("widgets/v1", "Widget", b"")).unwrap_err();
        assert_eq!(err.reason, Reason::UnsupportedMediaType);
    }
}
