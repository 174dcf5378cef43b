use crate::{both_databases, support::*};
use customerhub::{domain::notification::NotificationKind, grpc::pb};
use tonic::Code;

fn mask_settings(
    kind: pb::NotificationKind,
    mode: pb::NotificationMode,
    email: bool,
    hub: bool,
) -> pb::UpdateNotificationSettingsRequest {
    pb::UpdateNotificationSettingsRequest {
        settings: vec![pb::NotificationSetting { kind: kind as i32, mode: mode as i32, email, hub }],
        punches_low_threshold: None,
        expiring_days_before: None,
    }
}

async fn deliveries(app: &TestApp, customer_id: &str) -> Vec<pb::Delivery> {
    app.admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest { customer_id: customer_id.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

/// An automatic e-mail as a mail client sees it: both parts, the footer
/// link, and the RFC 8058 / RFC 3834 headers; and the same text in the HUB.
async fn automatic_mail_has_unsubscribe_headers_and_footer(app: TestApp) {
    let c = app.welcomed_company("Bager Hansen ApS", &[("Anna", "Jensen", "anna@bager.example.dk")]).await;
    let d = app.fire(NotificationKind::PunchesLow, &c.id, None).await;
    assert_eq!((d.emails_queued, d.inbox.len()), (1, 1));
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_to, ["anna@bager.example.dk"]);
    let list_unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        list_unsubscribe.starts_with("<https://customerhub.example.dk/unsubscribe/") && list_unsubscribe.ends_with('>'),
        "{list_unsubscribe}"
    );
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert_eq!(mail.header("Auto-Submitted").as_deref(), Some("auto-generated"));
    let text = mail.text_body();
    assert!(text.contains("Afmeld automatiske e-mails: https://hub.example.dk/unsubscribe?token="), "{text}");
    assert!(text.contains("<card_name>") && text.contains("<punches_left>"), "placeholders filled: {text}");
    let html = mail.html_body().expect("an HTML part");
    assert!(html.contains("<a href=\"https://hub.example.dk/unsubscribe?token="));
    // The Message-ID is the notification's and stays with it.
    let history = deliveries(&app, &c.id).await;
    let email = history
        .iter()
        .find(|d| d.channel == pb::Channel::Email as i32 && d.kind == pb::NotificationKind::PunchesLow as i32)
        .unwrap();
    assert_eq!(email.state, pb::DeliveryState::Sent as i32);
    assert_eq!(mail.message_id().unwrap(), format!("{}@rengoering.example.dk", email.id));
    let hub = history.iter().find(|d| d.channel == pb::Channel::Hub as i32).unwrap();
    assert_eq!(hub.state, pb::DeliveryState::Sent as i32);

    let session = app.hub_session_for(&c.contacts[0].id).await;
    let inbox = app.hub(&session).list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner();
    assert_eq!(inbox.unread_count, 1);
    assert_eq!(inbox.messages[0].title, mail.subject());
    assert_eq!(inbox.messages[0].kind, pb::NotificationKind::PunchesLow as i32);
    assert!(!inbox.messages[0].body.contains("unsubscribe"), "the footer belongs to e-mail only");
}

/// Only contacts with HUB access who got the welcome mail, for enabled
/// modules, are notified; every skipped send is recorded with its reason.
async fn recipients_are_filtered_and_skips_recorded(app: TestApp) {
    let mut req = company(
        "Filter ApS",
        &[
            ("Ada", "Adgang", "ada@filter.example.dk"),
            ("Nils", "Nej", "nils@filter.example.dk"),
            ("Vera", "Venter", "vera@filter.example.dk"),
        ],
    );
    req.contacts[1].hub_access = Some(false);
    let c = app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap();
    let id_of = |email: &str| c.contacts.iter().find(|x| x.email == email).unwrap().id.clone();
    app.admin_customers()
        .send_welcome_mail(pb::SendWelcomeMailRequest { contact_id: id_of("ada@filter.example.dk") })
        .await
        .unwrap();
    app.deliver_all().await;
    app.smtp.wait_for(1).await;
    app.smtp.clear();

    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    app.deliver_all().await;
    let mails = app.smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, ["ada@filter.example.dk"]);
    let history = deliveries(&app, &c.id).await;
    let reason = |email: &str, channel: pb::Channel| {
        history
            .iter()
            .find(|d| {
                d.contact_id == id_of(email)
                    && d.channel == channel as i32
                    && d.kind == pb::NotificationKind::PunchRegistered as i32
            })
            .map(|d| (d.state, d.suppress_reason.clone()))
            .unwrap()
    };
    let suppressed = pb::DeliveryState::Suppressed as i32;
    assert_eq!(reason("nils@filter.example.dk", pb::Channel::Email), (suppressed, "contact_has_no_hub_access".into()));
    assert_eq!(reason("vera@filter.example.dk", pb::Channel::Email), (suppressed, "welcome_mail_not_sent".into()));
    assert_eq!(reason("vera@filter.example.dk", pb::Channel::Hub), (suppressed, "welcome_mail_not_sent".into()));

    // Timesheets are not enabled for this customer.
    app.admin_notifications()
        .update_notification_settings(mask_settings(
            pb::NotificationKind::TimeRegistered,
            pb::NotificationMode::On,
            true,
            true,
        ))
        .await
        .unwrap();
    app.fire(NotificationKind::TimeRegistered, &c.id, None).await;
    assert_eq!(app.deliver_all().await, 0);
    let history = deliveries(&app, &c.id).await;
    let time = history
        .iter()
        .find(|d| {
            d.kind == pb::NotificationKind::TimeRegistered as i32 && d.contact_id == id_of("ada@filter.example.dk")
        })
        .unwrap();
    assert_eq!(time.suppress_reason, "module_not_enabled");
    // The per-contact filter works too.
    let only_ada = app
        .admin_notifications()
        .list_deliveries(pb::ListDeliveriesRequest {
            customer_id: c.id.clone(),
            contact_id: id_of("ada@filter.example.dk"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(only_ada.iter().all(|d| d.contact_id == id_of("ada@filter.example.dk")));
    assert!(only_ada.len() >= 3, "welcome, punch registered (e-mail and HUB), time registered: {only_ada:?}");
}

/// OFF sends nothing; ON unless the item says no; ON_DEFAULT_OFF only if it says yes.
async fn modes_and_per_item_choices(app: TestApp) {
    let c = app.welcomed_company("Mode ApS", &[("Mo", "De", "mo@mode.example.dk")]).await;
    let cases = [
        (pb::NotificationMode::Off, Some(true), 0),
        (pb::NotificationMode::On, None, 1),
        (pb::NotificationMode::On, Some(false), 0),
        (pb::NotificationMode::OnDefaultOff, None, 0),
        (pb::NotificationMode::OnDefaultOff, Some(true), 1),
    ];
    for (mode, per_item, expected) in cases {
        app.admin_notifications()
            .update_notification_settings(mask_settings(pb::NotificationKind::CardCreated, mode, true, false))
            .await
            .unwrap();
        let d = app.fire(NotificationKind::CardCreated, &c.id, per_item).await;
        assert_eq!(d.emails_queued, expected, "{mode:?} {per_item:?}");
        assert!(d.inbox.is_empty(), "HUB channel is off");
    }
    assert_eq!(app.deliver_all().await, 2);
    // Channels: HUB only.
    app.admin_notifications()
        .update_notification_settings(mask_settings(
            pb::NotificationKind::CardCreated,
            pb::NotificationMode::On,
            false,
            true,
        ))
        .await
        .unwrap();
    let d = app.fire(NotificationKind::CardCreated, &c.id, None).await;
    assert_eq!((d.emails_queued, d.inbox.len()), (0, 1));
}

async fn settings_are_admin_only_and_checked(app: TestApp) {
    let s = app
        .admin_notifications()
        .get_notification_settings(pb::GetNotificationSettingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .notification_settings
        .unwrap();
    assert_eq!(s.settings.len(), 8);
    assert_eq!(s.punches_low_threshold, 2);
    assert_eq!(s.expiring_days_before, 30);
    let time = s.settings.iter().find(|k| k.kind == pb::NotificationKind::TimeRegistered as i32).unwrap();
    assert_eq!(time.mode, pb::NotificationMode::Off as i32, "time registered starts off");

    let updated = app
        .admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting {
                kind: pb::NotificationKind::PunchesLow as i32,
                mode: pb::NotificationMode::OnDefaultOff as i32,
                email: true,
                hub: false,
            }],
            punches_low_threshold: Some(3),
            expiring_days_before: None,
        })
        .await
        .unwrap()
        .into_inner()
        .notification_settings
        .unwrap();
    assert_eq!(updated.punches_low_threshold, 3);
    assert_eq!(updated.expiring_days_before, 30);
    let low = updated.settings.iter().find(|k| k.kind == pb::NotificationKind::PunchesLow as i32).unwrap();
    assert_eq!((low.mode, low.email, low.hub), (pb::NotificationMode::OnDefaultOff as i32, true, false));

    let err = app
        .admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![
                pb::NotificationSetting {
                    kind: pb::NotificationKind::Welcome as i32,
                    mode: pb::NotificationMode::On as i32,
                    email: true,
                    hub: true,
                },
                pb::NotificationSetting {
                    kind: pb::NotificationKind::CardCreated as i32,
                    mode: 0,
                    email: true,
                    hub: true,
                },
            ],
            punches_low_threshold: Some(-1),
            expiring_days_before: Some(0),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["settings[1].mode"]);
    let err = app
        .admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting {
                kind: pb::NotificationKind::Welcome as i32,
                mode: pb::NotificationMode::On as i32,
                email: true,
                hub: true,
            }],
            punches_low_threshold: Some(-1),
            expiring_days_before: Some(0),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["settings[0].kind", "punches_low_threshold", "expiring_days_before"]);

    let nord = app.area("Nord").await;
    let (_, sup) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord]).await;
    let err =
        app.notifications(&sup).get_notification_settings(pb::GetNotificationSettingsRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Templates: defaults, overrides that are checked, used and reset, and previews.
async fn templates_are_checked_used_and_reset(app: TestApp) {
    let key = |kind: pb::NotificationKind| pb::GetTemplateRequest {
        kind: kind as i32,
        locale: pb::Locale::Da as i32,
        tone: pb::Tone::Formal as i32,
    };
    let t = app
        .admin_notifications()
        .get_template(key(pb::NotificationKind::PunchesLow))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert!(!t.customized);
    assert!(t.placeholders.contains(&"punches_left".to_string()));
    assert!(t.body.contains("{{ punches_left }}"), "{}", t.body);

    let save = |subject: &str, body: &str| pb::UpdateTemplateRequest {
        template: Some(pb::Template {
            kind: pb::NotificationKind::PunchesLow as i32,
            locale: pb::Locale::Da as i32,
            tone: pb::Tone::Formal as i32,
            subject: subject.into(),
            body: body.into(),
            ..Default::default()
        }),
    };
    let err = app
        .admin_notifications()
        .update_template(save("Få klip", "Kære {{ contact_name }}, kun {{ klip_tilbage }} tilbage"))
        .await
        .unwrap_err();
    let v = violations(&err);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, "template.body");
    assert!(v[0].1.contains("klip_tilbage"), "{}", v[0].1);
    let err = app.admin_notifications().update_template(save("{% if %}", "ok")).await.unwrap_err();
    assert_fields(&err, &["template.subject"]);
    let err = app
        .admin_notifications()
        .update_template(pb::UpdateTemplateRequest {
            template: Some(pb::Template { subject: "x".into(), body: "y".into(), ..Default::default() }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["template.kind", "template.locale", "template.tone"]);

    let saved = app
        .admin_notifications()
        .update_template(save(
            "Snart tomt: {{ card_name }}",
            "Hej {{ contact_first_name }}! Der er {{ punches_left }} tilbage.",
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert!(saved.customized);
    assert!(saved.update_time.is_some());

    let preview = app
        .admin_notifications()
        .preview_template(pb::PreviewTemplateRequest {
            template: Some(pb::Template {
                kind: pb::NotificationKind::PunchesLow as i32,
                locale: pb::Locale::Da as i32,
                tone: pb::Tone::Formal as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(preview.subject, "Snart tomt: Vinduespudsning 2026");
    assert_eq!(preview.text, "Hej Anna! Der er 3 klip tilbage.");
    // Templates are the admins', in a preview as in GetTemplate.
    let nord = app.area("Nord").await;
    let (_, sup) = app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord]).await;
    let in_use = pb::PreviewTemplateRequest {
        template: Some(pb::Template {
            kind: pb::NotificationKind::PunchesLow as i32,
            locale: pb::Locale::Da as i32,
            tone: pb::Tone::Formal as i32,
            ..Default::default()
        }),
    };
    let err = app.notifications(&sup).preview_template(in_use).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .admin_notifications()
        .preview_template(pb::PreviewTemplateRequest {
            template: Some(pb::Template {
                kind: pb::NotificationKind::PunchesLow as i32,
                locale: pb::Locale::Da as i32,
                tone: pb::Tone::Formal as i32,
                subject: "s".into(),
                body: "{{ nope }}".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["template.body"]);

    // The engine uses the workspace's text.
    let c = app.welcomed_company("Skabelon ApS", &[("Sif", "Skabelon", "sif@skabelon.example.dk")]).await;
    app.fire(NotificationKind::PunchesLow, &c.id, None).await;
    app.deliver_all().await;
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject(), "Snart tomt: <card_name>");
    assert!(mail.text_body().starts_with("Hej Sif! Der er <punches_left> tilbage."));

    let reset = app
        .admin_notifications()
        .reset_template(pb::ResetTemplateRequest {
            kind: pb::NotificationKind::PunchesLow as i32,
            locale: pb::Locale::Da as i32,
            tone: pb::Tone::Formal as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert!(!reset.customized);
    assert_eq!(reset.body, t.body);
    // The engine uses the default again at once.
    app.smtp.clear();
    app.fire(NotificationKind::PunchesLow, &c.id, None).await;
    app.deliver_all().await;
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert_ne!(mail.subject(), "Snart tomt: <card_name>", "the reset template is forgotten");
}

/// Unsubscribing through the HUB page's RPC and through the one-click POST
/// stops automatic e-mail (HUB messages go on); each change is recorded.
async fn unsubscribe_by_link_and_one_click(app: TestApp) {
    let c = app
        .welcomed_company(
            "Afmeld ApS",
            &[("Ulla", "Ud", "ulla@afmeld.example.dk"), ("Otto", "Ud", "otto@afmeld.example.dk")],
        )
        .await;
    app.fire(NotificationKind::CardUsedUp, &c.id, None).await;
    app.deliver_all().await;
    let mails = app.smtp.wait_for(2).await;
    app.smtp.clear();
    let ulla_mail = mails.iter().find(|m| m.rcpt_to[0] == "ulla@afmeld.example.dk").unwrap();
    let otto_mail = mails.iter().find(|m| m.rcpt_to[0] == "otto@afmeld.example.dk").unwrap();

    // Ulla follows the footer link; the HUB page calls the RPC without a session.
    let footer_token = {
        let text = ulla_mail.text_body();
        let start = text.find("unsubscribe?token=").unwrap() + "unsubscribe?token=".len();
        text[start..].split_whitespace().next().unwrap().to_string()
    };
    let r = app
        .anonymous_hub()
        .unsubscribe(pb::UnsubscribeRequest {
            token: footer_token,
            shown_text: "Afmeld alle automatiske e-mails?".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.email, "ulla@afmeld.example.dk");
    let err = app
        .anonymous_hub()
        .unsubscribe(pb::UnsubscribeRequest { token: "made-up".into(), shown_text: String::new() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Otto's mail client does RFC 8058 one-click: a POST to the List-Unsubscribe URL.
    let header = otto_mail.header("List-Unsubscribe").unwrap();
    let path = header.trim_matches(['<', '>']).trim_start_matches("https://customerhub.example.dk").to_string();
    let status = http_post(app.http_addr, &path, "List-Unsubscribe=One-Click").await;
    assert_eq!(status, 200);
    assert_eq!(http_post(app.http_addr, "/unsubscribe/made-up", "List-Unsubscribe=One-Click").await, 404);

    // No automatic e-mail goes out any more; the HUB still gets the message.
    let d = app.fire(NotificationKind::CardExpiring, &c.id, None).await;
    assert_eq!((d.emails_queued, d.inbox.len()), (0, 2));
    assert_eq!(app.deliver_all().await, 0);
    assert_eq!(app.smtp.count(), 0);
    let unsubscribed = deliveries(&app, &c.id)
        .await
        .into_iter()
        .filter(|d| d.kind == pb::NotificationKind::CardExpiring as i32 && d.channel == pb::Channel::Email as i32)
        .map(|d| d.suppress_reason)
        .collect::<Vec<_>>();
    assert_eq!(unsubscribed, ["unsubscribed", "unsubscribed"]);

    // Each change is on record with its source and what was shown.
    let events = |contact: &str| {
        let mut client = app.admin_notifications();
        let contact = contact.to_string();
        async move {
            client
                .list_subscription_events(pb::ListSubscriptionEventsRequest {
                    contact_id: contact,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .events
        }
    };
    let ulla_id = c.contacts.iter().find(|x| x.email == "ulla@afmeld.example.dk").unwrap().id.clone();
    let otto_id = c.contacts.iter().find(|x| x.email == "otto@afmeld.example.dk").unwrap().id.clone();
    let ulla_events = events(&ulla_id).await;
    assert_eq!(ulla_events.len(), 1);
    assert_eq!(ulla_events[0].source, pb::SubscriptionSource::Link as i32);
    assert_eq!(ulla_events[0].shown_text, "Afmeld alle automatiske e-mails?");
    assert!(!ulla_events[0].subscribed);
    assert_eq!(events(&otto_id).await[0].source, pb::SubscriptionSource::OneClick as i32);
    let contact = app
        .admin_customers()
        .get_contact(pb::GetContactRequest { contact_id: otto_id.clone() })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert!(!contact.subscribed);

    // Ulla subscribes again in her HUB profile; staff unsubscribe Otto again is refused as a no-op.
    let session = app.hub_session_for(&ulla_id).await;
    let profile = app
        .hub(&session)
        .set_email_subscription(pb::SetEmailSubscriptionRequest {
            subscribed: true,
            shown_text: "Modtag e-mails".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert!(profile.subscribed);
    let ulla_events = events(&ulla_id).await;
    assert_eq!(ulla_events.len(), 2);
    assert_eq!(ulla_events[0].source, pb::SubscriptionSource::Profile as i32);
    let err = app
        .admin_notifications()
        .set_contact_subscription(pb::SetContactSubscriptionRequest {
            contact_id: otto_id.clone(),
            subscribed: false,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let staff_event = app
        .admin_notifications()
        .set_contact_subscription(pb::SetContactSubscriptionRequest {
            contact_id: otto_id,
            subscribed: true,
            note: "asked by phone".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap();
    assert_eq!(staff_event.source, pb::SubscriptionSource::Staff as i32);
    assert_eq!(staff_event.staff_user_id, app.admin_id);

    app.fire(NotificationKind::CardExpired, &c.id, None).await;
    assert_eq!(app.deliver_all().await, 2, "both subscribed again");
}

/// A mail queued before its contact unsubscribed is not sent.
async fn unsubscribing_stops_mail_already_queued(app: TestApp) {
    let c = app.welcomed_company("Kø ApS", &[("Kim", "Kø", "kim@koe.example.dk")]).await;
    app.fire(NotificationKind::CardOverdrawn, &c.id, None).await;
    app.admin_notifications()
        .set_contact_subscription(pb::SetContactSubscriptionRequest {
            contact_id: c.contacts[0].id.clone(),
            subscribed: false,
            note: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(app.deliver_all().await, 1);
    assert_eq!(app.smtp.count(), 0);
    let email = deliveries(&app, &c.id)
        .await
        .into_iter()
        .find(|d| d.kind == pb::NotificationKind::CardOverdrawn as i32 && d.channel == pb::Channel::Email as i32)
        .unwrap();
    assert_eq!((email.state, email.suppress_reason.as_str()), (pb::DeliveryState::Suppressed as i32, "unsubscribed"));
}

/// The SMTP server is down, then up: retried with backoff (no hot loop), then
/// delivered once; past the retry limit a delivery fails with its last error.
async fn smtp_outage_is_retried_with_backoff(app: TestApp) {
    let c = app.welcomed_company("Nede ApS", &[("Nina", "Nede", "nina@nede.example.dk")]).await;
    app.smtp.set_accepting(false);
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    assert_eq!(app.deliver_all().await, 1, "tried once");
    assert_eq!(app.deliver_all().await, 0, "not again before the backoff has passed");
    let queued = deliveries(&app, &c.id)
        .await
        .into_iter()
        .find(|d| d.channel == pb::Channel::Email as i32 && d.kind == pb::NotificationKind::PunchRegistered as i32)
        .unwrap();
    assert_eq!((queued.state, queued.attempts), (pb::DeliveryState::Queued as i32, 1));
    assert!(!queued.last_error.is_empty());
    let wait = queued.next_attempt_time.unwrap().seconds - queued.create_time.unwrap().seconds;
    assert!((2..=5).contains(&wait), "first retry after 2.5–5 s, got {wait}");

    app.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(app.deliver_all().await, 1, "second attempt");
    app.smtp.set_accepting(true);
    app.clock.advance(chrono::Duration::seconds(11));
    assert_eq!(app.deliver_all().await, 1, "third attempt succeeds");
    let mails = app.smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    let sent = deliveries(&app, &c.id).await.into_iter().find(|d| d.id == queued.id).unwrap();
    assert_eq!((sent.state, sent.attempts), (pb::DeliveryState::Sent as i32, 3));

    // With the server down for good, the limit (3 in tests) ends in FAILED.
    app.smtp.set_accepting(false);
    app.fire(NotificationKind::CardUsedUp, &c.id, None).await;
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::hours(2));
        assert_eq!(app.deliver_all().await, 1);
    }
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.deliver_all().await, 0, "failed deliveries are not retried");
    let failed = deliveries(&app, &c.id)
        .await
        .into_iter()
        .find(|d| d.kind == pb::NotificationKind::CardUsedUp as i32 && d.channel == pb::Channel::Email as i32)
        .unwrap();
    assert_eq!((failed.state, failed.attempts), (pb::DeliveryState::Failed as i32, 3));
    assert!(!failed.last_error.is_empty());
}

/// A relay that refuses a recipient for good (550) fails that mail at once,
/// with the relay's answer; the others go.
async fn a_refused_recipient_fails_at_once(app: TestApp) {
    let c = app
        .welcomed_company(
            "Ukendt ApS",
            &[("Uffe", "Ukendt", "uffe@ukendt.example.dk"), ("Kaj", "Kendt", "kaj@ukendt.example.dk")],
        )
        .await;
    app.smtp.reject_recipient("uffe@ukendt.example.dk");
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    assert_eq!(app.deliver_all().await, 2);
    assert_eq!(app.smtp.wait_for(1).await[0].rcpt_to, ["kaj@ukendt.example.dk"]);
    let refused = deliveries(&app, &c.id)
        .await
        .into_iter()
        .find(|d| d.kind == pb::NotificationKind::PunchRegistered as i32 && d.recipient == "uffe@ukendt.example.dk")
        .unwrap();
    assert_eq!((refused.state, refused.attempts), (pb::DeliveryState::Failed as i32, 1), "{refused:?}");
    assert!(refused.last_error.contains("550"), "{refused:?}");
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.deliver_all().await, 0, "not tried again");
}

/// Deletes the customer's first contact, takes HUB access from the second
/// and moves the third to agnes@nyt.example.dk.
async fn change_the_first_three_contacts(app: &TestApp, c: &pb::Customer) {
    let contact = |i: usize| c.contacts[i].id.clone();
    let mut customers = app.admin_customers();
    customers.delete_contact(pb::DeleteContactRequest { contact_id: contact(0) }).await.unwrap();
    let closed = pb::Contact { id: contact(1), hub_access: false, ..Default::default() };
    customers
        .update_contact(pb::UpdateContactRequest { contact: Some(closed), update_mask: mask(&["hub_access"]) })
        .await
        .unwrap();
    let moved = pb::Contact { id: contact(2), email: "agnes@nyt.example.dk".into(), ..Default::default() };
    customers
        .update_contact(pb::UpdateContactRequest { contact: Some(moved), update_mask: mask(&["email"]) })
        .await
        .unwrap();
}

/// Mails waiting out an SMTP outage do not reach a contact that was deleted,
/// lost HUB access (its own or its customer's) or changed its address
/// meanwhile; each is suppressed with the reason.
async fn queued_mails_follow_the_contacts_access(app: TestApp) {
    let c = app
        .welcomed_company(
            "Skifte ApS",
            &[
                ("Dorte", "Slettet", "dorte@skifte.example.dk"),
                ("Lukas", "Lukket", "lukas@skifte.example.dk"),
                ("Agnes", "Adresse", "agnes@skifte.example.dk"),
                ("Bo", "Bliver", "bo@skifte.example.dk"),
            ],
        )
        .await;
    let other = app.welcomed_company("Lukket ApS", &[("Lis", "Lukket", "lis@lukket.example.dk")]).await;
    app.smtp.set_accepting(false);
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    app.fire(NotificationKind::PunchRegistered, &other.id, None).await;
    assert_eq!(app.deliver_all().await, 5, "tried once each");
    change_the_first_three_contacts(&app, &c).await;
    let closed = pb::Customer { id: other.id.clone(), hub_access: false, ..Default::default() };
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest { customer: Some(closed), update_mask: mask(&["hub_access"]) })
        .await
        .unwrap();

    app.smtp.set_accepting(true);
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.deliver_all().await, 1);
    assert_eq!(app.smtp.wait_for(1).await[0].rcpt_to, ["bo@skifte.example.dk"]);
    let mut reasons: Vec<(String, i32, String)> = deliveries(&app, &c.id)
        .await
        .into_iter()
        .chain(deliveries(&app, &other.id).await)
        .filter(|d| d.kind == pb::NotificationKind::PunchRegistered as i32 && d.channel == pb::Channel::Email as i32)
        .map(|d| (d.recipient, d.state, d.suppress_reason))
        .collect();
    reasons.sort();
    let suppressed = pb::DeliveryState::Suppressed as i32;
    assert_eq!(
        reasons,
        [
            ("agnes@skifte.example.dk".to_string(), suppressed, "email_changed".to_string()),
            ("bo@skifte.example.dk".to_string(), pb::DeliveryState::Sent as i32, String::new()),
            ("dorte@skifte.example.dk".to_string(), suppressed, "contact_deleted".to_string()),
            ("lis@lukket.example.dk".to_string(), suppressed, "no_hub_access".to_string()),
            ("lukas@skifte.example.dk".to_string(), suppressed, "no_hub_access".to_string()),
        ]
    );
}

/// Whether a mail may go is checked again right before it is sent: failed
/// mails retried after their contact was deleted, lost HUB access or changed
/// address are suppressed with the reason, not sent.
async fn retried_mails_are_checked_again_before_they_go(app: TestApp) {
    let c = app
        .welcomed_company(
            "Igen ApS",
            &[
                ("Dorte", "Slettet", "dorte@igen.example.dk"),
                ("Lukas", "Lukket", "lukas@igen.example.dk"),
                ("Agnes", "Adresse", "agnes@igen.example.dk"),
                ("Bo", "Bliver", "bo@igen.example.dk"),
            ],
        )
        .await;
    app.smtp.set_accepting(false);
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::hours(2));
        assert_eq!(app.deliver_all().await, 4);
    }
    let failed = "SELECT COUNT(*) FROM notifications WHERE kind = 'punch_registered' AND state = 'failed'";
    assert_eq!(app.scalar(failed).await, 4, "the limit is 3 tries in tests");
    change_the_first_three_contacts(&app, &c).await;

    app.smtp.set_accepting(true);
    let retry = pb::RetryDeliveriesRequest { delivery_ids: vec![], all_failed: true };
    app.admin_notifications().retry_deliveries(retry).await.unwrap();
    assert_eq!(app.deliver_all().await, 4);
    assert_eq!(app.smtp.wait_for(1).await[0].rcpt_to, ["bo@igen.example.dk"]);
    let mut reasons: Vec<(String, String)> = deliveries(&app, &c.id)
        .await
        .into_iter()
        .filter(|d| d.kind == pb::NotificationKind::PunchRegistered as i32 && d.channel == pb::Channel::Email as i32)
        .map(|d| (d.recipient, d.suppress_reason))
        .collect();
    reasons.sort();
    let expected = [
        ("agnes@igen.example.dk", "email_changed"),
        ("bo@igen.example.dk", ""),
        ("dorte@igen.example.dk", "contact_deleted"),
        ("lukas@igen.example.dk", "no_hub_access"),
    ];
    assert_eq!(reasons, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(app.smtp.count(), 1);
}

/// The claim takes the oldest due rows by walking `ix_notifications_due` in
/// its order, never by sorting every queued row. (That PostgreSQL keeps to
/// this plan after a burst its statistics have not seen is shown by the
/// e-mail benchmark, not here: which statistics make the planner sort
/// depends on details too fine to set up reliably; a test's queue, even
/// after a burst of 10,000 rows inserted after an ANALYZE, gets the index
/// plan either way.)
async fn the_claim_walks_the_due_index_in_order(app: TestApp) {
    let c = app
        .welcomed_company("Kø ApS", &[("Kim", "Kø", "kim@koe.example.dk"), ("Kaj", "Kø", "kaj@koe.example.dk")])
        .await;
    for _ in 0..3 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    let plan = customerhub::store::outbox::claim_plan(&app.state.db, app.clock_now()).await.unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("ix_notifications_due"), "{plan}");
    assert!(!plan.contains("Sort") && !plan.contains("TEMP B-TREE"), "the claim sorts:\n{plan}");
    if customerhub::store::is_postgres(&app.state.db) {
        // Room on each page, so that a claim's new row version stays on it (HOT).
        let options = app
            .scalar_text(
                "SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'notifications'",
            )
            .await;
        assert_eq!(options, "fillfactor=50");
    }
}

/// A worker that claimed a delivery and died: once its lease runs out, another
/// worker sends it, with the same Message-ID.
async fn a_dead_workers_claim_is_taken_again(app: TestApp) {
    let c = app.welcomed_company("Død ApS", &[("Dan", "Død", "dan@doed.example.dk")]).await;
    app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    let now = app.clock_now();
    let claimed = customerhub::store::outbox::claim_due(
        &app.state.db,
        "dead-worker",
        now,
        now + chrono::Duration::seconds(60),
        1,
    )
    .await
    .unwrap()
    .pop()
    .expect("a due notification");
    assert_eq!(app.deliver_all().await, 0, "still leased to the dead worker");
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.message_id().unwrap(), claimed.message_id);
    let sent = deliveries(&app, &c.id).await.into_iter().find(|d| d.id == claimed.id).unwrap();
    assert_eq!((sent.state, sent.attempts), (pb::DeliveryState::Sent as i32, 2));
}

/// The service's delivery loop keeps `delivery_concurrency` mails in hand
/// and tops up as each finishes: one mail stuck on a frozen SMTP connection
/// holds back nothing else, and the others are recorded as they finish, so
/// the stuck one is all a crash could send twice.
async fn a_stuck_mail_holds_back_no_other(app: TestApp) {
    let c = app
        .welcomed_company(
            "Strøm ApS",
            &[
                ("Anna", "Berg", "anna@strom.example.dk"),
                ("Bo", "Dahl", "bo@strom.example.dk"),
                ("Cai", "Eng", "cai@strom.example.dk"),
            ],
        )
        .await;
    app.smtp.clear();
    for _ in 0..10 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    app.smtp.stall_next(1);
    let stop = tokio_util::sync::CancellationToken::new();
    let state = app.state.clone();
    let delivering = tokio::spawn(async move { customerhub::delivery::deliver_while_due(&state, &stop).await });
    app.smtp.wait_for_stalled(1).await;
    // The other 29 get through while one connection hangs (a loop that sent
    // in batches would wait for the stuck one before claiming more).
    app.smtp.wait_for(29).await;
    let sent =
        "SELECT COUNT(*) FROM notifications WHERE kind = 'punch_registered' AND channel = 'email' AND state = 'sent'";
    for _ in 0..100 {
        if app.scalar(sent).await == 29 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.scalar(sent).await, 29, "recorded as they finished");
    assert!(!delivering.is_finished(), "the stuck mail is still in hand");
    delivering.abort();
    let _ = delivering.await;
    let released = customerhub::store::outbox::release(&app.state.db, &app.state.instance_id, app.state.clock.now());
    assert_eq!(released.await.unwrap(), 1, "the stuck mail was the only one in hand");
    let mails = app.smtp.mails();
    let ids: std::collections::HashSet<String> = mails.iter().map(|m| m.message_id().unwrap()).collect();
    assert_eq!((mails.len(), ids.len()), (29, 29), "each of the others once");
}

/// Runs the service's delivery loop (2 sent at once, a 1 s lease) until
/// nothing is due, with the sink answering each mail `delay` after it
/// arrives. Returns how many were handled and the most notifications leased
/// (claimed, not yet recorded) at any sample.
async fn deliver_sampling_leases(app: &TestApp, delay: std::time::Duration) -> (usize, i64) {
    let leased = "SELECT COUNT(*) FROM notifications WHERE state = 'queued' AND lease_owner IS NOT NULL";
    let state = customerhub::app::AppState {
        settings: std::sync::Arc::new(customerhub::config::Settings {
            delivery_concurrency: 2,
            // A quarter of the lease: 250 ms.
            delivery_lease_secs: 1,
            ..(*app.state.settings).clone()
        }),
        ..app.state.clone()
    };
    app.smtp.answer_after(delay);
    // On its own task, so it goes on while a sample waits for SQLite's writer.
    let delivering = tokio::spawn(async move {
        customerhub::delivery::deliver_while_due(&state, &tokio_util::sync::CancellationToken::new()).await
    });
    let mut most = 0;
    while !delivering.is_finished() {
        most = most.max(app.scalar(leased).await);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    (delivering.await.unwrap().unwrap(), most)
}

/// Mails claimed ahead that waited past half their lease (the relay slowed
/// down, or the process stalled) are given back unsent and claimed again
/// with a fresh lease: sent under an old one, another replica could take and
/// send them too. Each still goes out once.
async fn a_claim_that_waited_too_long_is_given_back(app: TestApp) {
    let c = app
        .welcomed_company(
            "Ventetid ApS",
            &[("Anna", "Berg", "anna@vent.example.dk"), ("Bo", "Dahl", "bo@vent.example.dk")],
        )
        .await;
    app.smtp.clear();
    for _ in 0..4 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    let state = customerhub::app::AppState {
        settings: std::sync::Arc::new(customerhub::config::Settings {
            delivery_concurrency: 1,
            ..(*app.state.settings).clone()
        }),
        ..app.state.clone()
    };
    let held = format!("SELECT COUNT(*) FROM notifications WHERE lease_owner = '{}'", state.instance_id);
    app.smtp.answer_after(std::time::Duration::from_millis(300));
    let delivering = tokio::spawn(async move {
        customerhub::delivery::deliver_while_due(&state, &tokio_util::sync::CancellationToken::new()).await
    });
    // Once the first send set the pace, the rest wait claimed behind it.
    for _ in 0..1_000 {
        if app.scalar(&held).await >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(app.scalar(&held).await >= 4, "the loop claimed ahead");
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(delivering.await.unwrap().unwrap(), 8);
    let mails = app.smtp.mails();
    let ids: std::collections::HashSet<String> = mails.iter().map(|m| m.message_id().unwrap()).collect();
    assert_eq!((mails.len(), ids.len()), (8, 8), "each once");
    let metrics = http_get(app.http_addr, "/metrics").await;
    let given_back = r#"customerhub_deliveries_given_back_total{channel="email"}"#;
    let n = metrics.lines().find_map(|l| l.strip_prefix(given_back)?.trim().parse::<f64>().ok()).unwrap_or(0.0);
    assert!(n >= 1.0, "{metrics}");
    let tried_twice = "SELECT COUNT(*) FROM notifications \
                       WHERE kind = 'punch_registered' AND channel = 'email' AND attempts > 1";
    assert_eq!(app.scalar(tried_twice).await, 0, "a give-back is not a try");
}

/// Against a relay slower than a quarter of the lease, the delivery loop
/// claims no more than it sends at once (`delivery::pace`): a mail waiting
/// claimed while its lease runs out would be sent by another replica too.
/// Against a fast one, it claims ahead of the sends.
async fn a_slow_relay_is_not_claimed_ahead(app: TestApp) {
    let c = app
        .welcomed_company(
            "Langsom ApS",
            &[("Anna", "Berg", "anna@langsom.example.dk"), ("Bo", "Dahl", "bo@langsom.example.dk")],
        )
        .await;
    for _ in 0..6 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    // 400 ms a mail: slower than a quarter lease, so nothing waits claimed.
    let (handled, most) = deliver_sampling_leases(&app, std::time::Duration::from_millis(400)).await;
    assert_eq!(handled, 12);
    // At most the 2 being sent and 2 just sent, not yet recorded.
    assert!(most <= 4, "claimed ahead of a slow relay: {most} leased");

    for _ in 0..30 {
        app.fire(NotificationKind::PunchRegistered, &c.id, None).await;
    }
    // 20 ms a mail: many rounds fit in a quarter lease.
    let (handled, most) = deliver_sampling_leases(&app, std::time::Duration::from_millis(20)).await;
    assert_eq!(handled, 60);
    assert!(most > 6, "claimed ahead of a fast relay: {most} leased");
}

both_databases!(
    a_slow_relay_is_not_claimed_ahead,
    a_claim_that_waited_too_long_is_given_back,
    automatic_mail_has_unsubscribe_headers_and_footer,
    recipients_are_filtered_and_skips_recorded,
    modes_and_per_item_choices,
    settings_are_admin_only_and_checked,
    templates_are_checked_used_and_reset,
    unsubscribe_by_link_and_one_click,
    unsubscribing_stops_mail_already_queued,
    smtp_outage_is_retried_with_backoff,
    a_refused_recipient_fails_at_once,
    queued_mails_follow_the_contacts_access,
    retried_mails_are_checked_again_before_they_go,
    a_dead_workers_claim_is_taken_again,
    the_claim_walks_the_due_index_in_order,
    a_stuck_mail_holds_back_no_other,
);

/// A minimal HTTP/1.1 POST over a real socket; returns the status code.
async fn http_post(addr: std::net::SocketAddr, path: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: customerhub.example.dk\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}
