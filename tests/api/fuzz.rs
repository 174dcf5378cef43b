//! Every RPC, found from the served descriptor set, called with arbitrary
//! bytes and with every kind of wrong credential: never a panic, never
//! INTERNAL or UNKNOWN, and the right code for credentials.
use super::raw_rpc::{call, methods};
use crate::support::*;
use bytes::Bytes;
use customerhub::grpc::pb;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::Code;

fn code(a: super::raw_rpc::Answer) -> Code {
    a.map_or_else(|s| s.code(), |_| Code::Ok)
}

pub const PUBLIC: &[&str] = &[
    "/customerhub.v1.HubService/ActivateAccount",
    "/customerhub.v1.HubService/Login",
    "/customerhub.v1.HubService/Unsubscribe",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bytes_to_every_rpc_never_break_the_server() {
    let app = spawn_app_with(Backend::Sqlite, None, |s| s.rate_limit_per_second = 0).await;
    let c = app.welcomed_company("Fuzz ApS", &[("Fie", "Fuzz", "fie@fuzz.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut tried = 0;
    for m in methods() {
        let token =
            if m.path.starts_with("/customerhub.v1.HubService/") { session.as_str() } else { app.admin_key.as_str() };
        for round in 0..12 {
            let len = if round == 0 { 0 } else { rng.random_range(1..200) };
            let body: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let code = code(call(&app, &m, Some(token), Bytes::from(body)).await);
            assert!(
                !matches!(code, Code::Internal | Code::Unknown | Code::Unimplemented),
                "{} answered {code:?}",
                m.path
            );
            tried += 1;
        }
    }
    assert!(tried >= 1000);
    // Still serving.
    app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap();
}

/// The credential matrix over every RPC: no key, an unknown key, a revoked
/// key, a HUB session on a staff service, an API key on a HUB-session call and
/// an expired HUB session all answer UNAUTHENTICATED, before any data is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_demands_the_right_credential() {
    let app = spawn_app(Backend::Sqlite).await;
    let c = app.welcomed_company("Matrix ApS", &[("Mia", "Matrix", "mia@matrix.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let (_, revoked) = app.staff_with_key("gone@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    let keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    let k = keys.iter().find(|k| revoked.starts_with(&k.prefix)).unwrap();
    app.admin_workspace().revoke_api_key(pb::RevokeApiKeyRequest { api_key_id: k.id.clone() }).await.unwrap();
    // A session that has outlived its time: the clock moves past it, and a
    // fresh session (and the API keys, which do not expire) still work.
    let expired = session.clone();
    app.clock.advance(chrono::Duration::hours(app.state.settings.session_ttl_hours + 1));
    let session = app.hub_session_for(&c.contacts[0].id).await;
    app.hub(&session).get_profile(pb::GetProfileRequest::default()).await.expect("a fresh session works");
    let mut cells = 0;
    for m in methods() {
        if PUBLIC.contains(&m.path.as_str()) {
            continue;
        }
        let hub = m.path.starts_with("/customerhub.v1.HubService/");
        let wrong_kind = if hub { app.admin_key.clone() } else { session.clone() };
        let mut tokens = vec![None, Some("chk_unknown"), Some(revoked.as_str()), Some(wrong_kind.as_str())];
        if hub {
            tokens.push(Some(expired.as_str()));
        }
        for token in tokens {
            let code = code(call(&app, &m, token, Bytes::new()).await);
            assert_eq!(code, Code::Unauthenticated, "{} with {token:?}", m.path);
            cells += 1;
        }
    }
    assert!(cells >= 340, "{cells}");
}

/// Random but well-formed messages, built from each method's input type in
/// the descriptor set: every field filled or not, strings from hostile to
/// nearly valid (NUL bytes, 5,000 characters, impossible dates, real ids),
/// numbers at their extremes, unknown enum values, odd timestamps and field
/// masks. Every RPC, both databases: never INTERNAL, UNKNOWN or a panic.
async fn well_formed_random_messages_to_every_rpc(app: TestApp) {
    let c = app.welcomed_company("Form ApS", &[("Fie", "Form", "fie@form.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let set = super::raw_rpc::descriptor_set();
    let messages = super::raw_rpc::message_types(&set);
    let random =
        RandomMessages { messages, ids: vec![c.id.clone(), c.contacts[0].id.clone(), app.workspace_id.clone()] };
    let mut rng = StdRng::seed_from_u64(0xf0f0);
    let mut tried = 0;
    let mut methods = methods();
    // What ends the caller's own credentials goes last.
    methods.sort_by_key(|m| m.name == "Logout" || m.name == "RevokeApiKey" || m.name == "ErasePersonalData");
    for m in methods {
        let token = if m.is_hub() { session.as_str() } else { app.admin_key.as_str() };
        for _ in 0..25 {
            let body = random.encode(&m.input_type, 0, &mut rng);
            let answer = call(&app, &m, Some(token), Bytes::from(body.clone())).await;
            if let Err(s) = &answer {
                assert!(
                    !matches!(s.code(), Code::Internal | Code::Unknown | Code::Unimplemented),
                    "{} answered {s:?} to {body:?}",
                    m.path
                );
            }
            tried += 1;
        }
    }
    assert!(tried >= 2000, "{tried}");
    app.admin_customers().list_customers(pb::ListCustomersRequest::default()).await.unwrap();
}

struct RandomMessages<'a> {
    messages: std::collections::HashMap<String, &'a prost_types::DescriptorProto>,
    ids: Vec<String>,
}

impl RandomMessages<'_> {
    fn encode(&self, type_name: &str, depth: usize, rng: &mut StdRng) -> Vec<u8> {
        use prost::encoding::{self, WireType, encode_key, encode_varint};
        use prost_types::field_descriptor_proto::{Label, Type};
        let mut buf = vec![];
        let Some(msg) = self.messages.get(type_name) else { return buf };
        for f in &msg.field {
            if !rng.random_bool(0.7) {
                continue;
            }
            let tag = f.number() as u32;
            let count = if f.label() == Label::Repeated { rng.random_range(0..4) } else { 1 };
            for _ in 0..count {
                match f.r#type() {
                    Type::String => encoding::string::encode(tag, &self.text(rng), &mut buf),
                    Type::Bytes => encoding::bytes::encode(tag, &self.text(rng).into_bytes(), &mut buf),
                    Type::Bool => encoding::bool::encode(tag, &rng.random(), &mut buf),
                    Type::Enum => {
                        let v = *[-1, 0, 1, 2, 3, 7, 19, 99, i32::MAX].get(rng.random_range(0..9)).unwrap();
                        encoding::int32::encode(tag, &v, &mut buf)
                    }
                    Type::Int32 | Type::Sint32 | Type::Uint32 => {
                        let v = *[0, -1, 1, 5, 100, 10_000, i32::MIN, i32::MAX].get(rng.random_range(0..8)).unwrap();
                        encoding::int32::encode(tag, &v, &mut buf)
                    }
                    Type::Int64 | Type::Sint64 | Type::Uint64 => {
                        let v = *[0, -1, 1, 60, 1_000_000, i64::MIN, i64::MAX].get(rng.random_range(0..7)).unwrap();
                        encoding::int64::encode(tag, &v, &mut buf)
                    }
                    Type::Double => encoding::double::encode(tag, &f64::NAN, &mut buf),
                    Type::Float => encoding::float::encode(tag, &f32::INFINITY, &mut buf),
                    Type::Message => {
                        let inner = match f.type_name() {
                            ".google.protobuf.Timestamp" => {
                                let seconds = *[
                                    0,
                                    -62_135_596_801,
                                    253_402_300_800,
                                    1_790_000_000,
                                    i64::MAX,
                                    -1,
                                    -300_000_000_000,
                                ]
                                .get(rng.random_range(0..7))
                                .unwrap();
                                let nanos = *[0, -1, 999_999_999, 1_000_000_000].get(rng.random_range(0..4)).unwrap();
                                prost::Message::encode_to_vec(&prost_types::Timestamp { seconds, nanos })
                            }
                            ".google.protobuf.FieldMask" => {
                                let paths = (0..rng.random_range(0..4))
                                    .map(|_| match rng.random_range(0..3) {
                                        0 => msg.field[rng.random_range(0..msg.field.len())].name().to_string(),
                                        1 => "no_such_field".to_string(),
                                        _ => self.text(rng),
                                    })
                                    .collect();
                                prost::Message::encode_to_vec(&prost_types::FieldMask { paths })
                            }
                            t if depth < 3 => self.encode(t, depth + 1, rng),
                            _ => vec![],
                        };
                        encode_key(tag, WireType::LengthDelimited, &mut buf);
                        encode_varint(inner.len() as u64, &mut buf);
                        buf.extend(inner);
                    }
                    _ => {}
                }
            }
        }
        buf
    }

    fn text(&self, rng: &mut StdRng) -> String {
        match rng.random_range(0..12) {
            0 => String::new(),
            1 => "a\0b".into(),
            2 => "x".repeat(5_000),
            3 => self.ids[rng.random_range(0..self.ids.len())].clone(),
            4 => uuid::Uuid::new_v4().to_string(),
            5 => ["2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "2026-03-29"][rng.random_range(0..5)].into(),
            6 => ["+45 12", "+4512345678", "a@b", "fie@form.example.dk", "not-an-email"][rng.random_range(0..5)].into(),
            7 => ["Europe/Nowhere", "Europe/Copenhagen", "da", "sv", "XX"][rng.random_range(0..5)].into(),
            8 => ["https://x", "javascript:alert(1)", "{{ 7*7 }}", "{% for %}", "'; DROP TABLE customers; --"]
                [rng.random_range(0..5)]
            .into(),
            9 => "ÆØÅ æøå 🙂 \u{202e}rtl".into(),
            _ => (0..rng.random_range(1..40)).map(|_| rng.random_range(' '..='~')).collect(),
        }
    }
}

crate::both_databases!(well_formed_random_messages_to_every_rpc);
