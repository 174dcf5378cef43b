//! Faults while the service works: PostgreSQL restarted under a stream of
//! writes, and a replica shut down with a request, a stream and a delivery
//! in flight. Each ends by checking that nothing accepted was lost.
use crate::support::*;
use customerhub::grpc::pb;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tonic::Code;

/// One writer's tally: punches accepted, and refusals while the database was away.
#[derive(Default, Debug)]
struct Tally {
    accepted: u64,
    unavailable: u64,
}

/// Registers punches one after another until `stop`; a refused punch is
/// retried with the same request id until it is accepted, as a client
/// following the retry advice would.
async fn writer(app: Arc<TestApp>, card_id: String, n: usize, stop: Arc<AtomicBool>) -> Tally {
    let mut cards = app.admin_cards();
    let mut tally = Tally::default();
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let request_id = format!("writer-{n}-{i}");
        loop {
            let mut req = tonic::Request::new(pb::RegisterPunchRequest {
                punch_card_id: card_id.clone(),
                description: format!("punch {request_id}"),
                amount: 1,
                request_id: request_id.clone(),
                ..Default::default()
            });
            // Waiting for the database is bounded by the acquire timeout
            // (500 ms here); a hang would show up as DEADLINE_EXCEEDED.
            req.set_timeout(Duration::from_secs(5));
            match cards.register_punch(req).await {
                Ok(_) => {
                    tally.accepted += 1;
                    break;
                }
                Err(s) if s.code() == Code::Unavailable => {
                    tally.unavailable += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(s) => panic!("writer {n}: {request_id} answered {s:?}; only UNAVAILABLE is retryable"),
            }
        }
    }
    tally
}

/// PostgreSQL stops while four clients keep registering punches, and starts
/// again: callers get UNAVAILABLE (never a hang or another code), the
/// service recovers by itself, and the card holds exactly the accepted
/// punches: none lost, none doubled by the retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load_keeps_every_accepted_write() {
    let pg = Arc::new(private_pg::PrivatePg::start());
    let app = Arc::new(
        spawn_app_with(Backend::Postgres, Some(pg.url()), |s| {
            s.health_check_interval_ms = 100;
            s.rate_limit_per_second = 0;
            s.db_acquire_timeout_ms = 500;
        })
        .await,
    );
    let customer = app.welcomed_company("Last ApS", &[("Lis", "Last", "lis@last.example.dk")]).await;
    let card = app.punch_card(&customer.id, "Stort kort", 1_000_000).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4).map(|n| tokio::spawn(writer(app.clone(), card.id.clone(), n, stop.clone()))).collect();
    let accepted_now = || {
        let app = app.clone();
        let id = card.id.clone();
        async move {
            app.admin_cards()
                .get_punch_card(pb::GetPunchCardRequest { punch_card_id: id })
                .await
                .map(|c| c.into_inner().punch_card.map_or(0, |c| c.used))
        }
    };
    // Load first, then the restart in the middle of it.
    let mut before = 0;
    for _ in 0..200 {
        before = accepted_now().await.unwrap();
        if before >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(before >= 40, "the writers got going: {before}");
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.down()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.up()).await.unwrap();

    // Recovered without a restart: the writers go on.
    let mut after = 0;
    for _ in 0..400 {
        if let Ok(used) = accepted_now().await {
            after = used;
            if used >= before + 80 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(after >= before + 80, "writes resumed after the restart: {before} then {after}");
    stop.store(true, Ordering::SeqCst);
    let mut accepted = 0;
    let mut unavailable = 0;
    for w in writers {
        let t = w.await.unwrap();
        accepted += t.accepted;
        unavailable += t.unavailable;
    }
    assert!(unavailable > 0, "the outage reached the callers as UNAVAILABLE");

    // Every accepted punch is there, once; nothing else is.
    let card = app
        .admin_cards()
        .get_punch_card(pb::GetPunchCardRequest { punch_card_id: card.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .punch_card
        .unwrap();
    assert_eq!(card.used as u64, accepted, "the balance counts exactly the accepted punches");
    let mut registrations = 0;
    let mut page_token = String::new();
    loop {
        let page = app
            .admin_cards()
            .list_registrations(pb::ListRegistrationsRequest {
                punch_card_id: card.id.clone(),
                page_size: 500,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        registrations += page.registrations.len() as u64;
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    assert_eq!(registrations, accepted, "one registration per accepted punch");
    eprintln!("{accepted} punches accepted, {unavailable} UNAVAILABLE answers during the restart");
}

/// A replica told to stop (SIGTERM) while it is sending a mail to a frozen
/// SMTP server, streaming to a HUB subscriber and in the middle of an
/// import: the import finishes, the stream ends with UNAVAILABLE and its
/// cursor, and the delivery is released to the other replica at once
/// (its lease would have held it for ten minutes), which sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_requests_and_hands_claimed_deliveries_over() {
    let mut a = spawn_app_with(Backend::Postgres, None, |s| {
        s.run_workers = true;
        s.delivery_poll_ms = 50;
        s.delivery_lease_secs = 600;
        s.shutdown_grace_secs = 1;
    })
    .await;
    let b = spawn_app_with(Backend::Postgres, Some(a.database_url.clone()), |s| s.delivery_lease_secs = 600).await;
    // A's own worker delivers the welcome mail here.
    let customer = a.admin_customers().create_customer(company("Skift ApS", &[])).await.unwrap().into_inner();
    let customer = customer.customer.unwrap();
    let contact = a
        .admin_customers()
        .create_contact(pb::CreateContactRequest {
            customer_id: customer.id.clone(),
            contact: Some(pb::ContactInput {
                first_name: "Sif".into(),
                last_name: "Skift".into(),
                email: "sif@skift.example.dk".into(),
                ..Default::default()
            }),
            send_welcome_mail: false,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let session = a.hub_session_for(&contact.id).await;
    let mut stream = a
        .hub(&session)
        .subscribe(pb::SubscribeRequest { after_sequence: 0 })
        .await
        .expect("subscribe on A")
        .into_inner();

    // A claims the next mail and hangs in the middle of sending it.
    a.smtp.stall_next(1);
    a.admin_customers().send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: contact.id.clone() }).await.unwrap();
    a.smtp.wait_for_stalled(1).await;

    // An import is under way when the stop comes.
    let (rows, rx) = tokio::sync::mpsc::channel(4);
    let mut import_client = a.admin_customers();
    let import =
        tokio::spawn(
            async move { import_client.import_customers(tokio_stream::wrappers::ReceiverStream::new(rx)).await },
        );
    let row = |r: &str| pb::ImportCustomersRequest {
        external_ref: r.into(),
        customer: Some(pb::Customer {
            kind: pb::CustomerKind::Company as i32,
            company_name: format!("Import {r}"),
            ..Default::default()
        }),
        contacts: vec![],
        send_welcome_mail: false,
    };
    rows.send(row("IMP-1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    a.begin_shutdown();

    // The live stream ends, telling the subscriber where to resume.
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("the stream ends") {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without telling where to resume"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert!(ended.message().contains("after_sequence"), "{ended:?}");

    // The import in flight completes.
    rows.send(row("IMP-2")).await.unwrap();
    drop(rows);
    let imported = import.await.unwrap().expect("the import in flight finishes").into_inner();
    assert_eq!(imported.created_count, 2);

    // A stops long before the ten-minute lease or the SMTP timeout.
    assert!(a.stopped_within(Duration::from_secs(30)).await, "A did not stop");
    assert_eq!(a.smtp.count(), 0, "A never finished the frozen send");

    // B takes the released mail at once and sends it.
    assert_eq!(b.deliver_all().await, 1, "the released delivery is B's to send now");
    let mails = b.smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].is_for("sif@skift.example.dk"));
    assert!(mails[0].text_body().contains("activate?token="));
    // Both replicas share one database: A's key works on B.
    let deliveries = b
        .notifications(&a.admin_key)
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: customer.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(deliveries.len(), 2, "two welcome mails: {deliveries:?}");
    assert!(deliveries.iter().all(|d| d.state == pb::DeliveryState::Sent as i32), "{deliveries:?}");
}

/// PostgreSQL restarted while mails are being sent: the results the worker
/// could not record are recorded once the database is back, so no mail goes
/// out twice when the leases would have run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mails_sent_while_postgres_restarts_are_recorded_once_it_is_back() {
    let pg = Arc::new(private_pg::PrivatePg::start());
    let app = spawn_app_with(Backend::Postgres, Some(pg.url()), |s| {
        s.delivery_concurrency = 2;
        s.db_acquire_timeout_ms = 500;
    })
    .await;
    let c = app
        .welcomed_company(
            "Genstart ApS",
            &[("Anna", "Berg", "anna@genstart.example.dk"), ("Bo", "Dahl", "bo@genstart.example.dk")],
        )
        .await;
    app.smtp.clear();
    for _ in 0..5 {
        app.fire(customerhub::domain::notification::NotificationKind::PunchRegistered, &c.id, None).await;
    }
    app.smtp.answer_after(Duration::from_millis(400));
    let state = app.state.clone();
    let delivering = tokio::spawn(async move {
        customerhub::delivery::deliver_while_due(&state, &tokio_util::sync::CancellationToken::new()).await
    });
    app.smtp.wait_for(2).await;
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.down()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pg2 = pg.clone();
    tokio::task::spawn_blocking(move || pg2.up()).await.unwrap();
    // Whatever the loop did meanwhile, it ends; the rest is delivered after.
    let _ = delivering.await.unwrap();
    use customerhub::delivery::{ExecutionOutcome, try_execute_task};
    for _ in 0..200 {
        match try_execute_task(&app.state).await {
            Ok(ExecutionOutcome::EmptyQueue) => break,
            Ok(ExecutionOutcome::TaskCompleted) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await, // still reconnecting
        }
    }
    // Every lease runs out: a mail sent and never recorded would go again.
    app.clock.advance(chrono::Duration::minutes(2));
    app.deliver_all().await;
    let mails = app.smtp.mails();
    let ids: std::collections::HashSet<String> = mails.iter().map(|m| m.message_id().unwrap()).collect();
    assert_eq!((ids.len(), mails.len()), (10, 10), "each of the 10 once");
}
