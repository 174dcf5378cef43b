//! The isolation matrix, generated over every RPC of the served descriptor
//! set: each request is filled with the ids of resources the caller must not
//! reach (every `*_id`, `*_ids` and resource `id` field, nested messages
//! included), then sent by
//!   - an admin key of another workspace,
//!   - a supervisor of this workspace against a customer outside its areas,
//!   - a HUB session of one customer against another customer's data.
//!
//! Every cell must answer NOT_FOUND or PERMISSION_DENIED where the owner of
//! the data, sending the very same bytes, gets an answer that depends on the
//! data (OK, FAILED_PRECONDITION, ALREADY_EXISTS); OK is accepted only when
//! the answer carries none of the foreign data (a list filtered by a foreign
//! id comes back empty). No answer, error details included, may carry a
//! foreign id, name, e-mail or phone number the caller did not send; and the
//! owner's view of its data is byte for byte the same before and after.
use super::fuzz::PUBLIC;
use super::raw_rpc::{Answer, Method, call, descriptor_set, message_types, methods};
use crate::{both_databases, support::*};
use bytes::Bytes;
use customerhub::grpc::pb;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::{DescriptorProto, field_descriptor_proto::Type};
use std::collections::HashMap;
use tonic::Code;

/// Ids to put in requests, by the stem of the field that carries them.
#[derive(Default, Clone)]
struct Ids(HashMap<&'static str, String>);

impl Ids {
    fn set(&mut self, stem: &'static str, id: &str) {
        self.0.insert(stem, id.to_string());
    }

    /// The id for a field named `name` in message `message`.
    fn for_field(&self, message: &str, name: &str) -> Option<&String> {
        let stem = match name {
            "id" => match message {
                "HubTimeEntry" => "time_entry".to_string(),
                "InboxMessage" => "message".to_string(),
                m => snake(m),
            },
            n if n.ends_with("_ids") => n.trim_end_matches("_ids").to_string(),
            n => n.trim_end_matches("_id").to_string(),
        };
        // Who created or registered something is a staff user.
        let stem = if stem.ends_with("staff_user") { "staff_user".to_string() } else { stem };
        self.0.get(stem.as_str())
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Encodes a plausible `message` whose id fields all point at `ids`.
struct Filler<'a> {
    messages: HashMap<String, &'a DescriptorProto>,
    ids: &'a Ids,
    tomorrow: prost_types::Timestamp,
}

impl Filler<'_> {
    fn encode(&self, type_name: &str, depth: usize) -> Vec<u8> {
        let msg = self.messages[type_name];
        let mut buf = vec![];
        for f in &msg.field {
            let tag = f.number() as u32;
            let name = f.name();
            let repeated = f.label() == prost_types::field_descriptor_proto::Label::Repeated;
            match f.r#type() {
                Type::String => {
                    let value = if name == "id" || name.ends_with("_id") || name.ends_with("_ids") {
                        self.ids.for_field(msg.name(), name).cloned()
                    } else {
                        plausible_text(name)
                    };
                    if let Some(v) = value {
                        prost::encoding::string::encode(tag, &v, &mut buf);
                    }
                }
                // The first value is often special (WELCOME, NEVER, ADMIN); the second is plain.
                Type::Enum if !repeated && name != "monthly_by" => prost::encoding::int32::encode(tag, &2, &mut buf),
                Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 if !repeated => {
                    // Pages big enough to show everything, so that a snapshot sees all.
                    let n = if name == "page_size" { 100 } else { 1 };
                    prost::encoding::int64::encode(tag, &n, &mut buf)
                }
                Type::Message if f.type_name() == ".google.protobuf.Timestamp" => {
                    prost::encoding::message::encode(tag, &self.tomorrow, &mut buf)
                }
                Type::Message if f.type_name().starts_with(".customerhub.v1.") && depth < 3 => {
                    let inner = self.encode(f.type_name(), depth + 1);
                    encode_key(tag, WireType::LengthDelimited, &mut buf);
                    encode_varint(inner.len() as u64, &mut buf);
                    buf.extend(inner);
                }
                _ => {}
            }
        }
        buf
    }
}

/// A value that passes validation for a text field of this name, so that a
/// call reaches the lookup of its ids; `None` leaves the field empty.
fn plausible_text(name: &str) -> Option<String> {
    let v = match name {
        "request_id" | "etag" | "page_token" | "token" | "external_ref" | "until" => return None,
        n if n.contains("email") => "probe@probe.example.dk",
        "expiry_date" => "2027-12-31",
        "from" => "2026-01-01",
        "to" | "date" => "2027-01-04",
        "country_code" => "DK",
        n if n.ends_with("currency") => "DKK",
        n if n.contains("phone") => "+45 20 30 40 50",
        n if n.ends_with("_date") || n == "performed_on" => "2027-01-04",
        "time_zone" => "Europe/Copenhagen",
        "password" => "a-good-long-password",
        n if n.ends_with("url") => "https://probe.example.dk",
        _ => "Probe",
    };
    Some(v.to_string())
}

/// Data one caller must not reach, and who may reach it.
struct Foreign {
    ids: Ids,
    /// Strings that must never appear in the caller's answers: ids, names,
    /// e-mails and phone numbers of the foreign data.
    secrets: Vec<String>,
    /// A credential that owns the data (the control column).
    owner: String,
    /// Whether the caller may legitimately change shared data of the
    /// owner's (a supervisor creates reminder types): then only views that
    /// ask for the foreign ids are compared before and after.
    shares_workspace: bool,
}

/// Customer "Ypsilon" in area Syd, with one of every kind of resource.
struct World {
    supervisor_nord: String,
    hub_x: String,
    hub_y: String,
    y: Ids,
    y_secrets: Vec<String>,
    workspace: Ids,
    workspace_secrets: Vec<String>,
}

async fn world(app: &TestApp) -> World {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let (_, supervisor_nord) =
        app.staff_with_key("sup.nord@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let customer_in = |name: &str, area: &str, first: &str, email: &str| {
        let last = format!("{}-Contact", name.split(' ').next().unwrap());
        let mut req = company(name, &[(first, last.as_str(), email)]);
        let c = req.customer.as_mut().unwrap();
        c.area_id = area.into();
        c.modules = vec![pb::Module::PunchCards as i32, pb::Module::Timesheets as i32];
        c.phone = "+45 71 72 73 74".into();
        req.contacts[0].phone = "+45 81 82 83 84".into();
        req
    };
    let mut customers = app.admin_customers();
    let x = customers
        .create_customer(customer_in("Xenon Vask ApS", &nord, "Xenia", "xenia@xenon.example.dk"))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let y = customers
        .create_customer(customer_in("Ypsilon Vask ApS", &syd, "Yrsa", "yrsa@ypsilon.example.dk"))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let hub_x = app.hub_session_for(&x.contacts[0].id).await;
    let hub_y = app.hub_session_for(&y.contacts[0].id).await;

    let card = app.punch_card(&y.id, "Ypsilon klippekort", 10).await;
    let registration = app
        .admin_cards()
        .register_punch(pb::RegisterPunchRequest {
            punch_card_id: card.id.clone(),
            description: "Ypsilon vinduer".into(),
            amount: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    let entry = app
        .admin_timesheets()
        .create_time_entry(pb::CreateTimeEntryRequest {
            customer_id: y.id.clone(),
            time_entry: Some(pb::TimeEntry {
                title: "Ypsilon trappevask".into(),
                performed_on: "2026-03-02".into(),
                billed_minutes: 60,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .time_entry
        .unwrap();
    let rtype = app
        .admin_reminders()
        .create_reminder_type(pb::CreateReminderTypeRequest { name: "Kontrakt".into() })
        .await
        .unwrap()
        .into_inner()
        .reminder_type
        .unwrap();
    let reminder = app
        .admin_reminders()
        .create_reminder(pb::CreateReminderRequest {
            reminder: Some(pb::Reminder {
                customer_id: y.id.clone(),
                reminder_type_id: rtype.id.clone(),
                name: "Ypsilon fornyelse".into(),
                first_date: "2027-03-01".into(),
                text: "Ypsilon kontrakten udløber".into(),
                repetition: Some(pb::Repetition { frequency: pb::Frequency::Monthly as i32, ..Default::default() }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .reminder
        .unwrap();
    let start = app.clock_now() - chrono::Duration::days(2);
    let booking = app
        .admin_bookings()
        .record_booking(pb::RecordBookingRequest {
            booking: Some(pb::Booking {
                external_id: "ypsilon-booking-1".into(),
                customer_id: y.id.clone(),
                contact_name: "Yrsa Ypsilon-Contact".into(),
                email: "yrsa@ypsilon.example.dk".into(),
                phone: "+45 81 82 83 84".into(),
                start_time: Some(prost_types::Timestamp { seconds: start.timestamp(), nanos: 0 }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    app.admin_workspace()
        .update_workspace(pb::UpdateWorkspaceRequest {
            workspace: Some(pb::Workspace {
                sms_enabled: true,
                booking_url: "https://booking.rengoering.example.dk".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["sms_enabled".into(), "booking_url".into()] }),
        })
        .await
        .unwrap();
    app.admin_customers()
        .set_sms_consent(pb::SetSmsConsentRequest {
            customer_id: y.id.clone(),
            granted: true,
            method: pb::SmsConsentMethod::InPerson as i32,
            note: String::new(),
        })
        .await
        .unwrap();
    let book_again = app
        .admin_bookings()
        .set_book_again_reminder(pb::SetBookAgainReminderRequest {
            booking_id: booking.id.clone(),
            interval_count: 6,
            interval_unit: pb::IntervalUnit::Weeks as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .book_again_reminder
        .unwrap();
    app.fire(customerhub::domain::notification::NotificationKind::PunchesLow, &y.id, None).await;
    app.deliver_all().await;
    let message = app
        .hub(&hub_y)
        .list_messages(pb::ListMessagesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages
        .into_iter()
        .next()
        .expect("a HUB message for Ypsilon's contact");
    let deliveries = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: y.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(deliveries.len() >= 2, "welcome mail and the notification: {deliveries:?}");
    app.smtp.clear();

    let mut ids = Ids::default();
    ids.set("customer", &y.id);
    ids.set("contact", &y.contacts[0].id);
    ids.set("punch_card", &card.id);
    ids.set("registration", &registration.id);
    ids.set("time_entry", &entry.id);
    ids.set("reminder", &reminder.id);
    ids.set("booking", &booking.id);
    ids.set("book_again_reminder", &book_again.id);
    ids.set("message", &message.id);
    ids.set("delivery", &deliveries[0].id);
    let mut y_secrets: Vec<String> = ids.0.values().cloned().collect();
    y_secrets.extend(deliveries.iter().map(|d| d.id.clone()));
    y_secrets.extend(
        ["Ypsilon", "yrsa@ypsilon.example.dk", "+45 81 82 83 84", "+4581828384", "+45 71 72 73 74", "+4571727374"]
            .map(String::from),
    );

    // What only this workspace's staff may see.
    let admin_keys =
        app.admin_workspace().list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner().api_keys;
    let mut workspace = Ids::default();
    workspace.set("workspace", &app.workspace_id);
    workspace.set("area", &syd);
    workspace.set("staff_user", &app.admin_id);
    workspace.set("reminder_type", &rtype.id);
    workspace.set("api_key", &admin_keys[0].id);
    let mut workspace_secrets: Vec<String> = workspace.0.values().cloned().collect();
    workspace_secrets.extend(admin_keys.iter().map(|k| k.id.clone()));
    workspace_secrets.extend([nord, app.admin_id.clone(), "Rengøring".into(), "admin@rengoering.example.dk".into()]);
    World { supervisor_nord, hub_x, hub_y, y: ids, y_secrets, workspace, workspace_secrets }
}

/// Methods in an order where nothing ends the caller's own session or key
/// before the matrix is through.
fn ordered_methods() -> Vec<Method> {
    let mut all: Vec<Method> = methods().into_iter().filter(|m| !PUBLIC.contains(&m.path.as_str())).collect();
    let ends_something = |m: &Method| ["Logout", "RevokeApiKey"].contains(&m.name.as_str());
    let removes_data = |m: &Method| ["Delete", "Erase", "Cancel"].iter().any(|p| m.name.starts_with(p));
    // Removing a customer removes everything of it: last.
    let removes_customer = |m: &Method| ["DeleteCustomer", "ErasePersonalData"].contains(&m.name.as_str());
    all.sort_by_key(|m| (ends_something(m), removes_data(m), removes_customer(m), m.path.clone()));
    all
}

fn is_read(m: &Method) -> bool {
    ["Get", "List", "Export", "Preview"].iter().any(|p| m.name.starts_with(p))
}

/// The owner's view of its data: every read RPC with the foreign ids filled in.
async fn snapshot(app: &TestApp, filler: &Filler<'_>, foreign: &Foreign, hub: bool) -> Vec<(String, String)> {
    let mut out = vec![];
    for m in ordered_methods().iter().filter(|m| is_read(m) && !m.server_streaming && m.is_hub() == hub) {
        let body = filler.encode(&m.input_type, 0);
        let text = String::from_utf8_lossy(&body);
        if foreign.shares_workspace && !foreign.ids.0.values().any(|id| text.contains(id.as_str())) {
            continue;
        }
        let owner = foreign.owner.as_str();
        let body = Bytes::from(body);
        let answer = call(app, m, Some(owner), body).await;
        out.push((m.path.clone(), format!("{:?}", answer.map_err(|s| (s.code(), s.message().to_string())))));
    }
    out
}

fn leaked<'a>(answer: &Answer, sent: &[u8], secrets: &'a [String]) -> Option<&'a String> {
    let sent = String::from_utf8_lossy(sent);
    let haystack: Vec<u8> = match answer {
        Ok(msgs) => msgs.iter().flat_map(|b| b.to_vec()).collect(),
        Err(s) => [s.message().as_bytes(), s.details(), format!("{:?}", s.metadata()).as_bytes()].concat(),
    };
    let text = String::from_utf8_lossy(&haystack);
    // An error may repeat what the caller sent; an answer with data may not.
    secrets.iter().find(|s| text.contains(s.as_str()) && (answer.is_ok() || !sent.contains(s.as_str())))
}

fn code(a: &Answer) -> Code {
    a.as_ref().map_or_else(|s| s.code(), |_| Code::Ok)
}

/// Runs one column of the matrix; returns how many cells were meaningful
/// (the owner's answer depended on the data, the caller's was a refusal).
async fn column(app: &TestApp, label: &str, caller: &str, foreign: &Foreign, which: impl Fn(&Method) -> bool) -> usize {
    let set = descriptor_set();
    let messages = message_types(&set);
    let tomorrow = app.clock_now() + chrono::Duration::days(1);
    let filler = Filler {
        messages,
        ids: &foreign.ids,
        tomorrow: prost_types::Timestamp { seconds: tomorrow.timestamp(), nanos: 0 },
    };
    let methods: Vec<Method> = ordered_methods().into_iter().filter(|m| which(m)).collect();
    let hub = methods.iter().all(Method::is_hub);
    let before = snapshot(app, &filler, foreign, hub).await;

    // The caller's column first, so the owner's data is intact for every cell.
    let mut answers = vec![];
    for m in &methods {
        let body = filler.encode(&m.input_type, 0);
        let answer = call(app, m, Some(caller), Bytes::from(body.clone())).await;
        assert!(
            !matches!(code(&answer), Code::Internal | Code::Unknown | Code::Unimplemented | Code::Unauthenticated),
            "{label}: {} answered {:?}",
            m.path,
            answer.as_ref().err()
        );
        if let Some(s) = leaked(&answer, &body, &foreign.secrets) {
            panic!("{label}: {} revealed {s:?}: {answer:?}", m.path);
        }
        answers.push((body, answer));
    }
    let after = snapshot(app, &filler, foreign, hub).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "{label}: the owner's view through {} changed", b.0);
    }

    // The control column: the owner sends the same bytes.
    let mut meaningful = 0;
    for (m, (body, answer)) in methods.iter().zip(&answers) {
        let owner_answer = call(app, m, Some(&foreign.owner), Bytes::from(body.clone())).await;
        let owner = code(&owner_answer);
        let caller = code(answer);
        let data_dependent = matches!(owner, Code::Ok | Code::FailedPrecondition | Code::AlreadyExists);
        eprintln!(
            "{label:>10} {:<55} owner {owner:?}, caller {caller:?}",
            m.path.trim_start_matches("/customerhub.v1.")
        );
        let refused = matches!(caller, Code::NotFound | Code::PermissionDenied);
        // A foreign id inside a new resource's body is a bad argument, named as
        // such; so is a stream cursor past the caller's own last message.
        let bad_reference = answer.as_ref().err().is_some_and(|s| {
            s.code() == Code::InvalidArgument
                && violations(s).iter().all(|(field, _)| {
                    let f = field.split('[').next().unwrap_or_default();
                    f.ends_with("_id") || f.ends_with("_ids") || f == "after_sequence"
                })
        });
        if data_dependent {
            assert!(
                refused || bad_reference || caller == Code::Ok,
                "{label}: {} answered the owner {owner:?} but the caller {caller:?}: {answer:?}",
                m.path
            );
            meaningful += usize::from(refused);
        } else {
            assert!(
                caller == owner || refused,
                "{label}: {} answered the owner {owner:?} but the caller {caller:?}",
                m.path
            );
        }
    }
    meaningful
}

/// Another workspace's admin: nothing of this workspace, on any staff RPC.
async fn another_workspace_reaches_nothing(app: TestApp) {
    let w = world(&app).await;
    let (_, other_admin) = app.other_workspace().await;
    let mut ids = w.y.clone();
    ids.0.extend(w.workspace.0.clone());
    let foreign = Foreign {
        ids,
        secrets: [w.y_secrets, w.workspace_secrets].concat(),
        owner: app.admin_key.clone(),
        shares_workspace: false,
    };
    let cells = column(&app, "tenant", &other_admin, &foreign, |m| !m.is_hub()).await;
    assert!(cells >= 35, "tenant: only {cells} cells reached a data-dependent answer for the owner");
}

/// A supervisor of Nord: nothing of Syd's customer. Workspace-wide things
/// (areas, reminder types, staff names) are shared with supervisors.
async fn a_supervisor_reaches_no_customer_outside_its_areas(app: TestApp) {
    let w = world(&app).await;
    let mut ids = w.y.clone();
    ids.0.extend(w.workspace.0.clone());
    let foreign = Foreign { ids, secrets: w.y_secrets, owner: app.admin_key.clone(), shares_workspace: true };
    let cells = column(&app, "supervisor", &w.supervisor_nord, &foreign, |m| !m.is_hub()).await;
    assert!(cells >= 25, "supervisor: only {cells} cells reached a data-dependent answer for the owner");
}

/// A HUB session of Xenon's contact: nothing of Ypsilon's.
async fn a_hub_session_reaches_no_other_customer(app: TestApp) {
    let w = world(&app).await;
    let foreign = Foreign { ids: w.y, secrets: w.y_secrets, owner: w.hub_y, shares_workspace: true };
    let cells = column(&app, "hub", &w.hub_x, &foreign, Method::is_hub).await;
    assert!(cells >= 1, "hub: only {cells} cells reached a data-dependent answer for the owner");
}

both_databases!(
    another_workspace_reaches_nothing,
    a_supervisor_reaches_no_customer_outside_its_areas,
    a_hub_session_reaches_no_other_customer
);
