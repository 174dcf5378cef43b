use crate::{both_databases, support::*};
use customerhub::{
    app::AppState,
    domain::{
        Id,
        inbox::{InboxMessage, RecipientKind},
        notification::NotificationKind,
    },
    grpc::pb::{self, hub_service_client::HubServiceClient},
    store::{self, inbox::NewInboxMessage},
};
use std::time::Duration;
use tonic::{Code, Streaming};

/// The next message on a stream, skipping heartbeats; panics after 10 s.
async fn next_message(stream: &mut Streaming<pb::SubscribeResponse>) -> pb::InboxMessage {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = stream.message().await.expect("stream error").expect("stream ended").event.unwrap();
            if let pb::subscribe_response::Event::Message(m) = event {
                return m;
            }
        }
    })
    .await
    .expect("no message within 10 s")
}

async fn subscribe(client: &mut HubServiceClient<Authed>, after: i64) -> Streaming<pb::SubscribeResponse> {
    client.subscribe(pb::SubscribeRequest { after_sequence: after }).await.unwrap().into_inner()
}

/// A backlog that outgrows what the client takes in: 250 messages of 32 KiB
/// (8 MiB) against the 2 MiB HTTP/2 window its connection grants a stream,
/// and more messages than a recipient's channel holds.
const BACKLOG_BODY: usize = 32 * 1024;
const BACKLOG: i64 = 250;

/// Appends a message to `contact`'s inbox directly in the store (committed
/// on its own) and returns it with its sequence; no stream hears of it yet.
async fn append_to_contact(
    state: &AppState,
    workspace: &Id,
    contact: &Id,
    title: String,
    body: String,
) -> InboxMessage {
    let m = NewInboxMessage {
        workspace_id: workspace,
        recipient_kind: RecipientKind::Contact,
        recipient_id: contact,
        customer_id: None,
        kind: NotificationKind::PunchRegistered,
        title,
        body,
        link: String::new(),
    };
    store::inbox::append(&state.db, m, chrono::Utc::now()).await.unwrap()
}

/// Replays after the cursor, streams live, and after a dropped connection
/// resumes with exactly the messages missed, in order.
async fn stream_replays_goes_live_and_resumes_without_gaps(app: TestApp) {
    let c = app.welcomed_company("Strøm ApS", &[("Sara", "Strøm", "sara@stroem.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    for _ in 0..2 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    let mut hub = app.hub(&session);
    let mut stream = subscribe(&mut hub, 0).await;
    assert_eq!(next_message(&mut stream).await.sequence, 1);
    assert_eq!(next_message(&mut stream).await.sequence, 2);
    // Live.
    app.fire(NotificationKind::PunchesLow, &c.id, None).await;
    let live = next_message(&mut stream).await;
    assert_eq!((live.sequence, live.kind), (3, pb::NotificationKind::PunchesLow as i32));
    // Idle streams get heartbeats carrying the cursor.
    let beat = tokio::time::timeout(Duration::from_secs(5), stream.message()).await.unwrap().unwrap().unwrap();
    match beat.event.unwrap() {
        pb::subscribe_response::Event::Heartbeat(h) => assert_eq!(h.last_sequence, 3),
        other => panic!("expected a heartbeat, got {other:?}"),
    }
    // Drop the connection, miss three, resume from 3.
    drop(stream);
    for kind in [NotificationKind::CardUsedUp, NotificationKind::CardExpiring, NotificationKind::CardExpired] {
        app.fire(kind, &c.id, None).await;
    }
    let mut stream = subscribe(&mut hub, 3).await;
    let got: Vec<i64> =
        [next_message(&mut stream).await, next_message(&mut stream).await, next_message(&mut stream).await]
            .iter()
            .map(|m| m.sequence)
            .collect();
    assert_eq!(got, [4, 5, 6]);
    app.fire(NotificationKind::CardOverdrawn, &c.id, None).await;
    let m = next_message(&mut stream).await;
    assert_eq!((m.sequence, m.kind), (7, pb::NotificationKind::CardOverdrawn as i32));

    // The inbox: newest first, unread counts, mark one and all read.
    let inbox =
        hub.list_messages(pb::ListMessagesRequest { page_size: 5, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(inbox.messages.iter().map(|m| m.sequence).collect::<Vec<_>>(), [7, 6, 5, 4, 3]);
    assert_eq!(inbox.unread_count, 7);
    let rest = hub
        .list_messages(pb::ListMessagesRequest {
            page_size: 5,
            page_token: inbox.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.messages.iter().map(|m| m.sequence).collect::<Vec<_>>(), [2, 1]);
    let left = hub
        .mark_messages_read(pb::MarkMessagesReadRequest { message_ids: vec![inbox.messages[0].id.clone()], all: false })
        .await
        .unwrap()
        .into_inner()
        .unread_count;
    assert_eq!(left, 6);
    let unread = hub
        .list_messages(pb::ListMessagesRequest { unread_only: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unread.messages.len(), 6);
    assert!(unread.messages.iter().all(|m| m.read_time.is_none()));
    let left = hub
        .mark_messages_read(pb::MarkMessagesReadRequest { message_ids: vec![], all: true })
        .await
        .unwrap()
        .into_inner()
        .unread_count;
    assert_eq!(left, 0);
    let err = hub
        .mark_messages_read(pb::MarkMessagesReadRequest { message_ids: vec!["x".into()], all: false })
        .await
        .unwrap_err();
    assert_fields(&err, &["message_ids[0]"]);
    // The same message named twice counts once; more ids than a statement
    // may carry is the caller's mistake.
    let twice = vec![inbox.messages[1].id.clone(); 2];
    let read = hub.mark_messages_read(pb::MarkMessagesReadRequest { message_ids: twice, all: false }).await;
    assert_eq!(read.unwrap().into_inner().unread_count, 0);
    let many = vec![inbox.messages[1].id.clone(); 40_000];
    let err = hub.mark_messages_read(pb::MarkMessagesReadRequest { message_ids: many, all: false }).await.unwrap_err();
    assert_fields(&err, &["message_ids"]);
    let err = hub.subscribe(pb::SubscribeRequest { after_sequence: -1 }).await.unwrap_err();
    assert_fields(&err, &["after_sequence"]);
    // A cursor past the last message would hide the next ones silently.
    let last = inbox.messages.iter().map(|m| m.sequence).max().unwrap();
    let err = hub.subscribe(pb::SubscribeRequest { after_sequence: last + 1 }).await.unwrap_err();
    assert_fields(&err, &["after_sequence"]);
    hub.subscribe(pb::SubscribeRequest { after_sequence: last }).await.expect("the last one is a fine cursor");
}

/// A HUB session sees only its own inbox; streams need a session.
async fn inboxes_are_private(app: TestApp) {
    let a = app.welcomed_company("Alfa ApS", &[("Al", "Fa", "al@alfa.example.dk")]).await;
    let b = app.welcomed_company("Beta ApS", &[("Be", "Ta", "be@beta.example.dk")]).await;
    app.fire(NotificationKind::PunchRegistered, &a.id, None).await;
    let b_session = app.hub_session_for(&b.contacts[0].id).await;
    let mut b_hub = app.hub(&b_session);
    assert!(b_hub.list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner().messages.is_empty());
    let a_inbox_ids = {
        let a_session = app.hub_session_for(&a.contacts[0].id).await;
        app.hub(&a_session).list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner().messages
    };
    // Someone else's message is NOT_FOUND, and stays unread.
    let err = b_hub
        .mark_messages_read(pb::MarkMessagesReadRequest { message_ids: vec![a_inbox_ids[0].id.clone()], all: false })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let a_session = app.hub_session_for(&a.contacts[0].id).await;
    assert_eq!(
        app.hub(&a_session).list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner().unread_count,
        1
    );
    // B's stream carries nothing of A's.
    let mut stream = subscribe(&mut b_hub, 0).await;
    app.fire(NotificationKind::PunchRegistered, &b.id, None).await;
    let m = next_message(&mut stream).await;
    assert_eq!(m.customer_id, b.id);
    assert_eq!(m.sequence, 1);
    let err = app.anonymous_hub().subscribe(pb::SubscribeRequest { after_sequence: 0 }).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = app.hub(&app.admin_key).subscribe(pb::SubscribeRequest { after_sequence: 0 }).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// A client that stops reading holds its stream back (HTTP/2 flow control)
/// rather than making the server buffer for it, and is not cut off: when it
/// reads again it gets every message in order, the ones created while it
/// was not reading included.
async fn a_slow_reader_is_held_back_and_misses_nothing(app: TestApp) {
    let (session, ws, contact) = one_contact_with_session(&app, "Langsom ApS", "lars@langsom.example.dk").await;
    // The stream falls behind the recipient's channel and must catch up
    // from the database.
    let body = "x".repeat(BACKLOG_BODY);
    let total = BACKLOG;
    let create = |i: i64| {
        let (state, ws, contact, body) = (app.state.clone(), ws.clone(), contact.clone(), body.clone());
        async move {
            let m = append_to_contact(&state, &ws, &contact, format!("m{i}"), body).await;
            state.live.publish_message(contact.as_str(), m);
        }
    };
    create(1).await;
    let mut hub = app.hub(&session);
    let mut stream = subscribe(&mut hub, 0).await;
    assert_eq!(next_message(&mut stream).await.sequence, 1);
    // Stop reading while the rest arrive live.
    for i in 2..=total {
        create(i).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for expected in 2..=total {
        let m = next_message(&mut stream).await;
        assert_eq!((m.sequence, m.body.len()), (expected, BACKLOG_BODY), "in order, no gap, no duplicate");
    }
    // Still open and live.
    create(total + 1).await;
    assert_eq!(next_message(&mut stream).await.sequence, total + 1);
}

/// A stream working through a backlog that its client held back still
/// re-checks its session at each heartbeat: logging out ends it before the
/// backlog is through, not after.
async fn a_stream_catching_up_still_ends_with_its_session(app: TestApp) {
    let (session, ws, contact) = one_contact_with_session(&app, "Efterslæb ApS", "eva@efterslaeb.example.dk").await;
    // Most of it waits on the server, past the client's window.
    let body = "x".repeat(BACKLOG_BODY);
    let total = BACKLOG;
    for i in 1..=total {
        append_to_contact(&app.state, &ws, &contact, format!("m{i}"), body.clone()).await;
    }
    let mut hub = app.hub(&session);
    let mut stream = subscribe(&mut hub, 0).await;
    assert_eq!(next_message(&mut stream).await.sequence, 1);
    app.hub(&session).logout(pb::LogoutRequest {}).await.unwrap();
    // Longer than a heartbeat (300 ms in tests), reading nothing.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut got = 1;
    let status = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(pb::SubscribeResponse { event: Some(pb::subscribe_response::Event::Message(_)) })) => got += 1,
                Ok(Some(_)) => {}
                Ok(None) => panic!("ended without a status"),
                Err(s) => return s,
            }
        }
    })
    .await
    .expect("the stream outlived its session");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(got < total, "ended only after the whole backlog ({got} of {total})");
}

/// Staff get their own inbox and stream.
async fn staff_inbox_and_stream(app: TestApp) {
    use customerhub::store::TransactionTrait;
    let mut notifications = app.admin_notifications();
    let mut stream = notifications
        .subscribe_staff_messages(pb::SubscribeStaffMessagesRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let tx = app.state.db.begin().await.unwrap();
    let ws = Id::parse(&app.workspace_id).unwrap();
    let me = Id::parse(&app.admin_id).unwrap();
    let m = store::inbox::append(
        &tx,
        NewInboxMessage {
            workspace_id: &ws,
            recipient_kind: RecipientKind::Staff,
            recipient_id: &me,
            customer_id: None,
            kind: NotificationKind::StaffReminder,
            title: "Forny kontrakt".into(),
            body: "Bager Hansen".into(),
            link: String::new(),
        },
        app.clock_now(),
    )
    .await
    .unwrap();
    customerhub::live::notify_in_tx(&tx, &me, m.seq).await.unwrap();
    tx.commit().await.unwrap();
    app.state.live.publish_message(me.as_str(), m);
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(pb::subscribe_staff_messages_response::Event::Message(m)) =
                stream.message().await.unwrap().unwrap().event
            {
                return m;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!((got.sequence, got.title.as_str()), (1, "Forny kontrakt"));
    let list = notifications.list_staff_messages(pb::ListStaffMessagesRequest::default()).await.unwrap().into_inner();
    assert_eq!((list.messages.len(), list.unread_count), (1, 1));
    let left = notifications
        .mark_staff_messages_read(pb::MarkStaffMessagesReadRequest { message_ids: vec![], all: true })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.unread_count, 0);
    // Another staff user's inbox is empty.
    let (_, other) = app.staff_with_key("other@rengoering.example.dk", pb::StaffRole::Admin, vec![]).await;
    assert!(
        app.notifications(&other)
            .list_staff_messages(pb::ListStaffMessagesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .messages
            .is_empty()
    );
    // ... and this user's message is not theirs to mark.
    let err = app
        .notifications(&other)
        .mark_staff_messages_read(pb::MarkStaffMessagesReadRequest { message_ids: vec![got.id.clone()], all: false })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

both_databases!(
    stream_replays_goes_live_and_resumes_without_gaps,
    inboxes_are_private,
    a_slow_reader_is_held_back_and_misses_nothing,
    a_stream_catching_up_still_ends_with_its_session,
    staff_inbox_and_stream,
);

/// Two server processes on one PostgreSQL: a message written through one
/// reaches a subscriber connected to the other (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_on_one_replica_reaches_a_subscriber_of_another() {
    let app = spawn_app(Backend::Postgres).await;
    let c = app.welcomed_company("Replika ApS", &[("Rie", "Replika", "rie@replika.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;

    // The second replica is the real binary, in its own process.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Killed however the test ends.
    let mut replica = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_customerhub"))
            .arg("serve")
            .env("CUSTOMERHUB_DATABASE_URL", &app.database_url)
            .env("CUSTOMERHUB_LISTEN", format!("127.0.0.1:{port}"))
            .env("CUSTOMERHUB_HTTP_LISTEN", "127.0.0.1:0")
            .env("CUSTOMERHUB_RUN_WORKERS", "false")
            // Heartbeats far apart: only NOTIFY can bring the message in time.
            .env("CUSTOMERHUB_STREAM_HEARTBEAT_MS", "600000")
            .env("CUSTOMERHUB_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    {
        let channel = loop {
            if let Ok(ch) =
                tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await
            {
                break ch;
            }
            assert!(replica.0.try_wait().unwrap().is_none(), "replica exited");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {session}").parse().unwrap();
        let mut hub = HubServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", bearer.clone());
            Ok(r)
        });
        // Once the stream's headers are back, the replica is listening for it.
        let mut stream = hub.subscribe(pb::SubscribeRequest { after_sequence: 0 }).await.unwrap().into_inner();
        app.fire(NotificationKind::PunchesLow, &c.id, None).await;
        let m = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(pb::subscribe_response::Event::Message(m)) = stream.message().await.unwrap().unwrap().event
                {
                    return m;
                }
            }
        })
        .await
        .expect("the other replica's subscriber got nothing");
        assert_eq!((m.sequence, m.kind), (1, pb::NotificationKind::PunchesLow as i32));
    }
}

/// A thousand random cuts while messages keep coming: the history the
/// subscriber assembles across reconnections has no gap, no duplicate, and
/// keeps order (the check etcd's watch robustness tests make).
async fn a_thousand_cuts_under_load(app: TestApp) {
    use rand::{Rng, SeedableRng};
    let c = app.welcomed_company("Snit ApS", &[("Sune", "Snit", "sune@snit.example.dk")]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let total: i64 = 1500;
    let writer = {
        let state = app.state.clone();
        let ws = Id::parse(&app.workspace_id).unwrap();
        let contact = Id::parse(&c.contacts[0].id).unwrap();
        tokio::spawn(async move {
            for i in 0..total {
                let m = append_to_contact(&state, &ws, &contact, format!("m{i}"), String::new()).await;
                // Both ways a stream hears: the message in hand, or only its sequence.
                if i % 2 == 0 {
                    state.live.publish_message(contact.as_str(), m);
                } else {
                    state.live.publish(contact.as_str(), m.seq);
                }
                if i % 3 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut history: Vec<i64> = vec![];
    let mut hub = app.hub(&session);
    let mut cuts = 0;
    let started = std::time::Instant::now();
    while cuts < 1000 || history.last().copied().unwrap_or(0) < total {
        let after = history.last().copied().unwrap_or(0);
        let mut stream =
            tokio::time::timeout(Duration::from_secs(5), hub.subscribe(pb::SubscribeRequest { after_sequence: after }))
                .await
                .unwrap_or_else(|_| panic!("subscribe hung after {cuts} cuts ({:?})", started.elapsed()))
                .unwrap()
                .into_inner();
        let remaining = (total - after) as usize;
        // Read a random few (sometimes none) and cut; once 1,000 cuts are done, read the rest.
        let take = if cuts < 1000 { rng.random_range(0..4).min(remaining) } else { remaining };
        let mut got = 0;
        let mut last_message = std::time::Instant::now();
        while got < take {
            match tokio::time::timeout(Duration::from_secs(5), stream.message()).await {
                Ok(Ok(Some(pb::SubscribeResponse { event: Some(pb::subscribe_response::Event::Message(m)) }))) => {
                    history.push(m.sequence);
                    got += 1;
                    last_message = std::time::Instant::now();
                }
                Ok(Ok(Some(_))) => {
                    assert!(
                        last_message.elapsed() < Duration::from_secs(10),
                        "only heartbeats for 10 s after {cuts} cuts, at {:?}; writer finished: {}",
                        history.last(),
                        writer.is_finished()
                    );
                }
                other => panic!("stream broke after {cuts} cuts: {other:?}"),
            }
        }
        drop(stream);
        cuts += 1;
    }
    writer.await.unwrap();
    let expected: Vec<i64> = (1..=total).collect();
    assert_eq!(history, expected, "no gap, no duplicate, in order across {cuts} cuts");
}

both_databases!(a_thousand_cuts_under_load);

/// A company with one contact logged into the HUB: its session token,
/// workspace and contact.
async fn one_contact_with_session(app: &TestApp, name: &str, email: &str) -> (String, Id, Id) {
    let c = app.welcomed_company(name, &[("Kim", "Kontakt", email)]).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    (session, Id::parse(&app.workspace_id).unwrap(), Id::parse(&c.contacts[0].id).unwrap())
}

/// Many more streams than may read the database at once (`LiveHub::read_permit`),
/// opened together, each replay their whole history: the queue drains.
async fn streams_opened_together_all_replay(app: TestApp) {
    let (session, ws, contact) = one_contact_with_session(&app, "Mange ApS", "mona@mange.example.dk").await;
    for i in 1..=3 {
        append_to_contact(&app.state, &ws, &contact, format!("m{i}"), "hej".into()).await;
    }
    let opened = (0..100).map(|_| {
        let mut hub = app.hub(&session);
        async move {
            let mut stream = subscribe(&mut hub, 0).await;
            let mut got = vec![];
            for _ in 0..3 {
                got.push(next_message(&mut stream).await.sequence);
            }
            got
        }
    });
    for got in futures::future::join_all(opened).await {
        assert_eq!(got, [1, 2, 3]);
    }
}

both_databases!(streams_opened_together_all_replay);

/// A stream reads the database only with a read permit: while all of them
/// are taken, a new stream replays nothing; given back, it replays all.
async fn a_stream_reads_only_with_a_permit(app: TestApp) {
    let (session, ws, contact) = one_contact_with_session(&app, "Kø ApS", "karl@ko.example.dk").await;
    append_to_contact(&app.state, &ws, &contact, "m1".into(), "hej".into()).await;
    let mut held = vec![];
    while let Ok(Some(p)) = tokio::time::timeout(Duration::from_millis(100), app.state.live.read_permit()).await {
        held.push(p);
    }
    assert!(!held.is_empty());
    let mut hub = app.hub(&session);
    let mut stream = subscribe(&mut hub, 0).await;
    let early = tokio::time::timeout(Duration::from_millis(700), stream.message()).await;
    assert!(early.is_err(), "read without a permit: {early:?}");
    drop(held);
    assert_eq!(next_message(&mut stream).await.sequence, 1);
}

both_databases!(a_stream_reads_only_with_a_permit);
