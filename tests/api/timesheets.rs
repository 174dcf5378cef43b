use crate::{both_databases, support::*};
use customerhub::grpc::pb;
use tonic::Code;

fn entry(title: &str, performed_on: &str, billed_minutes: i64) -> pb::TimeEntry {
    pb::TimeEntry { title: title.into(), performed_on: performed_on.into(), billed_minutes, ..Default::default() }
}

fn non_billable(mut e: pb::TimeEntry) -> pb::TimeEntry {
    e.billable = Some(false);
    e
}

fn create_req(customer_id: &str, e: pb::TimeEntry) -> pb::CreateTimeEntryRequest {
    pb::CreateTimeEntryRequest { customer_id: customer_id.into(), time_entry: Some(e), request_id: String::new() }
}

async fn register(app: &TestApp, customer_id: &str, e: pb::TimeEntry) -> pb::TimeEntry {
    app.admin_timesheets().create_time_entry(create_req(customer_id, e)).await.unwrap().into_inner().time_entry.unwrap()
}

async fn get(app: &TestApp, id: &str) -> Result<pb::TimeEntry, tonic::Status> {
    app.admin_timesheets()
        .get_time_entry(pb::GetTimeEntryRequest { time_entry_id: id.into() })
        .await
        .map(|r| r.into_inner().time_entry.unwrap())
}

fn list_req(customer_id: &str) -> pb::ListTimeEntriesRequest {
    pb::ListTimeEntriesRequest { customer_id: customer_id.into(), ..Default::default() }
}

async fn list(app: &TestApp, req: pb::ListTimeEntriesRequest) -> Vec<pb::TimeEntry> {
    app.admin_timesheets().list_time_entries(req).await.unwrap().into_inner().time_entries
}

fn titles(entries: &[pb::TimeEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.title.as_str()).collect()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
}

fn update_req(e: pb::TimeEntry, paths: &[&str]) -> pb::UpdateTimeEntryRequest {
    pb::UpdateTimeEntryRequest { time_entry: Some(e), update_mask: mask(paths) }
}

fn mark_req(customer_id: &str, ids: &[&str]) -> pb::MarkTimeEntriesInvoicedRequest {
    pb::MarkTimeEntriesInvoicedRequest {
        customer_id: customer_id.into(),
        time_entry_ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

async fn mark(app: &TestApp, customer_id: &str, ids: &[&str]) -> pb::MarkTimeEntriesInvoicedResponse {
    app.admin_timesheets().mark_time_entries_invoiced(mark_req(customer_id, ids)).await.unwrap().into_inner()
}

fn ids(entries: &[pb::TimeEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.id.as_str()).collect()
}

/// A company without contacts that has the Timesheets module.
async fn timesheet_customer(app: &TestApp, name: &str, area_id: &str) -> pb::Customer {
    let mut req = company(name, &[]);
    let c = req.customer.as_mut().unwrap();
    c.modules = vec![pb::Module::Timesheets as i32];
    c.area_id = area_id.into();
    app.admin_customers().create_customer(req).await.unwrap().into_inner().customer.unwrap()
}

async fn set_modules(app: &TestApp, customer_id: &str, modules: &[pb::Module]) {
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: customer_id.into(),
                modules: modules.iter().map(|m| *m as i32).collect(),
                ..Default::default()
            }),
            update_mask: mask(&["modules"]),
        })
        .await
        .unwrap();
}

async fn set_time_mode(app: &TestApp, mode: pb::NotificationMode) {
    app.admin_notifications()
        .update_notification_settings(pb::UpdateNotificationSettingsRequest {
            settings: vec![pb::NotificationSetting {
                kind: pb::NotificationKind::TimeRegistered as i32,
                mode: mode as i32,
                email: true,
                hub: true,
            }],
            punches_low_threshold: None,
            expiring_days_before: None,
        })
        .await
        .unwrap();
}

fn precondition_types(err: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let details = err.get_error_details();
    details.precondition_failure().unwrap().violations.iter().map(|v| (v.r#type.clone(), v.subject.clone())).collect()
}

fn not_found<T>(r: Result<tonic::Response<T>, tonic::Status>) {
    match r {
        Ok(_) => panic!("expected NOT_FOUND, got data"),
        Err(e) => assert_eq!(e.code(), Code::NotFound, "{e:?}"),
    }
}

async fn create_get_and_list_with_period_filters_and_paging(app: TestApp) {
    let c = timesheet_customer(&app, "Kontor ApS", "").await;
    let mut e = entry("Vinduespudsning", "2026-03-02", 90);
    e.description = "Alle vinduer,\nogså i kælderen".into();
    e.actual_minutes = Some(75);
    let created = register(&app, &c.id, e).await;
    assert_eq!(created.customer_id, c.id);
    assert_eq!(created.title, "Vinduespudsning");
    assert_eq!(created.description, "Alle vinduer,\nogså i kælderen");
    assert_eq!(created.performed_on, "2026-03-02");
    assert_eq!((created.billed_minutes, created.actual_minutes, created.billable), (90, Some(75), Some(true)));
    assert_eq!(created.registered_by_staff_user_id, app.admin_id);
    assert_eq!(created.notify, None);
    assert!(created.invoice_time.is_none());
    assert!(created.create_time.is_some() && !created.etag.is_empty());
    assert_eq!(get(&app, &created.id).await.unwrap(), created, "reads back exactly as registered");

    // Without a date it is today in the workspace's time zone: 22:30 UTC on
    // 30 June is already 1 July in Copenhagen.
    app.clock.set("2026-06-30T22:30:00Z".parse().unwrap());
    let today = register(&app, &c.id, entry("Akut opgave", "", 30)).await;
    assert_eq!(today.performed_on, "2026-07-01");

    register(&app, &c.id, non_billable(entry("Gratis eftersyn", "2026-03-03", 20))).await;
    register(&app, &c.id, entry("Trappevask", "2026-03-03", 60)).await;
    register(&app, &c.id, entry("Gulvvask", "2026-03-05", 45)).await;
    register(&app, &c.id, entry("Februar", "2026-02-27", 15)).await;
    // Another customer's time is never listed.
    let other = timesheet_customer(&app, "Andet ApS", "").await;
    register(&app, &other.id, entry("Fremmed", "2026-03-04", 10)).await;

    let all = list(&app, list_req(&c.id)).await;
    assert_eq!(
        titles(&all),
        ["Akut opgave", "Gulvvask", "Trappevask", "Gratis eftersyn", "Vinduespudsning", "Februar"],
        "newest day first; within a day the latest registered first"
    );
    let march = || pb::ListTimeEntriesRequest { from: "2026-03-01".into(), to: "2026-03-31".into(), ..list_req(&c.id) };
    assert_eq!(titles(&list(&app, march()).await), ["Gulvvask", "Trappevask", "Gratis eftersyn", "Vinduespudsning"]);
    let billable_in_march = list(&app, pb::ListTimeEntriesRequest { billable: Some(true), ..march() }).await;
    assert_eq!(titles(&billable_in_march), ["Gulvvask", "Trappevask", "Vinduespudsning"]);
    let free = list(&app, pb::ListTimeEntriesRequest { billable: Some(false), ..list_req(&c.id) }).await;
    assert_eq!(titles(&free), ["Gratis eftersyn"]);
    let from = list(&app, pb::ListTimeEntriesRequest { from: "2026-03-03".into(), ..list_req(&c.id) }).await;
    assert_eq!(titles(&from), ["Akut opgave", "Gulvvask", "Trappevask", "Gratis eftersyn"], "from is inclusive");
    let to = list(&app, pb::ListTimeEntriesRequest { to: "2026-03-02".into(), ..list_req(&c.id) }).await;
    assert_eq!(titles(&to), ["Vinduespudsning", "Februar"], "to is inclusive");

    // Every page size walks the same order, also across a day split over two pages.
    for size in 1..=4 {
        let (mut seen, mut token) = (vec![], String::new());
        loop {
            let page = app
                .admin_timesheets()
                .list_time_entries(pb::ListTimeEntriesRequest {
                    page_size: size,
                    page_token: token.clone(),
                    ..list_req(&c.id)
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.time_entries.len() <= size as usize);
            seen.extend(page.time_entries);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(ids(&seen), ids(&all), "page size {size}");
    }
}

async fn update_with_mask_and_etag(app: TestApp) {
    let c = timesheet_customer(&app, "Ret ApS", "").await;
    let mut e = entry("Vinduer", "2026-04-01", 60);
    e.description = "Før".into();
    e.actual_minutes = Some(50);
    let e = register(&app, &c.id, e).await;

    // Only the title changes.
    let renamed = app
        .admin_timesheets()
        .update_time_entry(update_req(
            pb::TimeEntry {
                id: e.id.clone(),
                title: "Vinduer og karme".into(),
                etag: e.etag.clone(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .unwrap()
        .into_inner()
        .time_entry
        .unwrap();
    assert_eq!(renamed.title, "Vinduer og karme");
    assert_eq!((renamed.description.as_str(), renamed.performed_on.as_str()), ("Før", "2026-04-01"));
    assert_eq!((renamed.billed_minutes, renamed.actual_minutes, renamed.billable), (60, Some(50), Some(true)));
    assert_ne!(renamed.etag, e.etag);
    assert_eq!(get(&app, &e.id).await.unwrap(), renamed);

    // A stale etag loses.
    let err = app
        .admin_timesheets()
        .update_time_entry(update_req(
            pb::TimeEntry { id: e.id.clone(), title: "Stale".into(), etag: e.etag.clone(), ..Default::default() },
            &["title"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);

    // Several fields; a masked, unset actual_minutes is cleared.
    let moved = app
        .admin_timesheets()
        .update_time_entry(update_req(
            pb::TimeEntry {
                id: e.id.clone(),
                performed_on: "2026-04-02".into(),
                billed_minutes: 75,
                billable: Some(false),
                etag: renamed.etag.clone(),
                ..Default::default()
            },
            &["performed_on", "billed_minutes", "actual_minutes", "billable"],
        ))
        .await
        .unwrap()
        .into_inner()
        .time_entry
        .unwrap();
    assert_eq!(moved.title, "Vinduer og karme");
    assert_eq!(moved.performed_on, "2026-04-02");
    assert_eq!((moved.billed_minutes, moved.actual_minutes, moved.billable), (75, None, Some(false)));

    // An empty mask writes every field, defaults included.
    let replaced = app
        .admin_timesheets()
        .update_time_entry(pb::UpdateTimeEntryRequest {
            time_entry: Some(pb::TimeEntry {
                id: e.id.clone(),
                actual_minutes: Some(40),
                ..entry("Ny titel", "2026-04-03", 30)
            }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .time_entry
        .unwrap();
    assert_eq!((replaced.title.as_str(), replaced.description.as_str()), ("Ny titel", ""));
    assert_eq!((replaced.billed_minutes, replaced.actual_minutes, replaced.billable), (30, Some(40), Some(true)));
    assert_eq!(replaced.registered_by_staff_user_id, app.admin_id);

    let err = app
        .admin_timesheets()
        .update_time_entry(update_req(
            pb::TimeEntry { id: uuid::Uuid::now_v7().to_string(), title: "x".into(), ..Default::default() },
            &["title"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn delete_checks_etag_and_is_final(app: TestApp) {
    let c = timesheet_customer(&app, "Slet ApS", "").await;
    let e = register(&app, &c.id, entry("Forkert", "2026-04-01", 60)).await;
    let keep = register(&app, &c.id, entry("Rigtig", "2026-04-01", 60)).await;
    let err = app
        .admin_timesheets()
        .delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: e.id.clone(), etag: "99".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    app.admin_timesheets()
        .delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: e.id.clone(), etag: e.etag.clone() })
        .await
        .unwrap();
    assert_eq!(get(&app, &e.id).await.unwrap_err().code(), Code::NotFound);
    let err = app
        .admin_timesheets()
        .delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: e.id.clone(), etag: String::new() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(ids(&list(&app, list_req(&c.id)).await), [keep.id.as_str()]);
}

/// Marking reports what was invoiced before; an invoiced entry is locked;
/// a foreign or unknown id marks nothing.
async fn invoicing_marks_reports_and_locks(app: TestApp) {
    let c = timesheet_customer(&app, "Faktura ApS", "").await;
    let other = timesheet_customer(&app, "Anden ApS", "").await;
    let a = register(&app, &c.id, entry("A", "2026-05-01", 60)).await;
    let b = register(&app, &c.id, entry("B", "2026-05-02", 30)).await;
    let d = register(&app, &c.id, entry("D", "2026-05-03", 15)).await;
    let e = register(&app, &c.id, entry("E", "2026-05-04", 10)).await;
    let foreign = register(&app, &other.id, entry("X", "2026-05-01", 10)).await;

    let first = mark(&app, &c.id, &[&a.id, &b.id]).await;
    assert_eq!(ids(&first.invoiced_entries), [a.id.as_str(), b.id.as_str()]);
    assert!(first.already_invoiced_entries.is_empty());
    assert!(first.invoiced_entries.iter().all(|x| x.invoice_time == first.invoice_time && x.etag != a.etag));
    assert_eq!(get(&app, &a.id).await.unwrap(), first.invoiced_entries[0]);

    // A later call marks only the new one; the old one keeps its invoice time.
    app.clock.advance(chrono::Duration::hours(1));
    let second = mark(&app, &c.id, &[&a.id, &d.id, &d.id]).await;
    assert_eq!(ids(&second.invoiced_entries), [d.id.as_str()]);
    assert_eq!(ids(&second.already_invoiced_entries), [a.id.as_str()]);
    assert_eq!(second.already_invoiced_entries[0].invoice_time, first.invoice_time);
    assert_ne!(second.invoice_time, first.invoice_time);
    let again = mark(&app, &c.id, &[&a.id, &d.id]).await;
    assert!(again.invoiced_entries.is_empty());
    assert_eq!(ids(&again.already_invoiced_entries), [a.id.as_str(), d.id.as_str()]);

    // Invoiced entries are locked.
    let err = app
        .admin_timesheets()
        .update_time_entry(update_req(pb::TimeEntry { id: a.id.clone(), ..entry("Ændret", "", 0) }, &["title"]))
        .await
        .unwrap_err();
    assert_eq!(precondition_types(&err), [("INVOICED".to_string(), format!("time_entries/{}", a.id))]);
    let err = app
        .admin_timesheets()
        .delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: a.id.clone(), etag: String::new() })
        .await
        .unwrap_err();
    assert_eq!(precondition_types(&err), [("INVOICED".to_string(), format!("time_entries/{}", a.id))]);
    assert_eq!(get(&app, &a.id).await.unwrap().title, "A");

    // Another customer's entry or an unknown id: NOT_FOUND, and nothing is marked.
    let err = app.admin_timesheets().mark_time_entries_invoiced(mark_req(&c.id, &[&e.id, &foreign.id])).await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    let unknown = uuid::Uuid::now_v7().to_string();
    let err = app.admin_timesheets().mark_time_entries_invoiced(mark_req(&c.id, &[&e.id, &unknown])).await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    assert!(get(&app, &e.id).await.unwrap().invoice_time.is_none());
    assert!(get(&app, &foreign.id).await.unwrap().invoice_time.is_none());

    let invoiced = list(&app, pb::ListTimeEntriesRequest { invoiced: Some(true), ..list_req(&c.id) }).await;
    assert_eq!(titles(&invoiced), ["D", "B", "A"]);
    let open = list(&app, pb::ListTimeEntriesRequest { invoiced: Some(false), ..list_req(&c.id) }).await;
    assert_eq!(titles(&open), ["E"]);
}

async fn totals_sum_billable_invoiced_and_the_rest(app: TestApp) {
    let c = timesheet_customer(&app, "Sum ApS", "").await;
    let other = timesheet_customer(&app, "Anden Sum ApS", "").await;
    let invoiced = register(&app, &c.id, entry("Faktureret", "2026-03-01", 90)).await;
    register(&app, &c.id, entry("Åben", "2026-03-31", 30)).await;
    let free = register(&app, &c.id, non_billable(entry("Gratis", "2026-03-15", 45))).await;
    register(&app, &c.id, entry("April", "2026-04-01", 60)).await;
    register(&app, &other.id, entry("Fremmed", "2026-03-10", 500)).await;
    // An invoiced non-billable entry counts as non-billable, not as invoiced time.
    mark(&app, &c.id, &[&invoiced.id, &free.id]).await;

    let totals = |from: &str, to: &str, customer: &str| {
        let req = pb::GetTimesheetTotalsRequest { customer_id: customer.into(), from: from.into(), to: to.into() };
        let mut client = app.admin_timesheets();
        async move { client.get_timesheet_totals(req).await.map(|r| r.into_inner().totals.unwrap()) }
    };
    let t = |billable, non_billable, invoiced, not_invoiced, count| pb::TimesheetTotals {
        billable_minutes: billable,
        non_billable_minutes: non_billable,
        invoiced_minutes: invoiced,
        not_invoiced_minutes: not_invoiced,
        entry_count: count,
    };
    assert_eq!(totals("2026-03-01", "2026-03-31", &c.id).await.unwrap(), t(120, 45, 90, 30, 3));
    assert_eq!(totals("", "", &c.id).await.unwrap(), t(180, 45, 90, 90, 4));
    assert_eq!(totals("2026-04-01", "", &c.id).await.unwrap(), t(60, 0, 0, 60, 1));
    assert_eq!(totals("", "2026-02-28", &c.id).await.unwrap(), t(0, 0, 0, 0, 0));
    let empty = timesheet_customer(&app, "Tom ApS", "").await;
    assert_eq!(totals("", "", &empty.id).await.unwrap(), t(0, 0, 0, 0, 0));
    assert_fields(&totals("2026-04-01", "2026-03-01", &c.id).await.unwrap_err(), &["to"]);
    assert_fields(&totals("1. april", "", "nope").await.unwrap_err(), &["customer_id", "from"]);
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(totals("", "", &unknown).await.unwrap_err().code(), Code::NotFound);
}

/// Every bad field is named at once, and none is an internal error.
async fn bad_input_names_every_field(app: TestApp) {
    let c = timesheet_customer(&app, "Fejl ApS", "").await;
    let mut ts = app.admin_timesheets();
    let bad = pb::TimeEntry {
        title: "x".repeat(201),
        description: "y".repeat(2001),
        performed_on: "2026-02-30".into(),
        billed_minutes: 0,
        actual_minutes: Some(-5),
        ..Default::default()
    };
    let err = ts
        .create_time_entry(pb::CreateTimeEntryRequest {
            customer_id: "nope".into(),
            time_entry: Some(bad.clone()),
            request_id: "x\u{1}".into(),
        })
        .await
        .unwrap_err();
    assert_fields(
        &err,
        &[
            "customer_id",
            "request_id",
            "time_entry.title",
            "time_entry.description",
            "time_entry.performed_on",
            "time_entry.billed_minutes",
            "time_entry.actual_minutes",
        ],
    );
    let err = ts.create_time_entry(create_req(&c.id, entry("  ", "12/5/2026", -30))).await.unwrap_err();
    assert_fields(&err, &["time_entry.title", "time_entry.performed_on", "time_entry.billed_minutes"]);
    let err = ts.create_time_entry(create_req(&c.id, entry("Alt for meget", "", i64::MAX))).await.unwrap_err();
    assert_fields(&err, &["time_entry.billed_minutes"]);
    let err = ts
        .create_time_entry(pb::CreateTimeEntryRequest { customer_id: c.id.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_fields(&err, &["time_entry"]);

    let e = register(&app, &c.id, entry("God", "2026-05-01", 60)).await;
    let err = ts
        .update_time_entry(update_req(
            pb::TimeEntry { id: "nope".into(), ..Default::default() },
            &["title", "shoe_size", "registered_by_staff_user_id"],
        ))
        .await
        .unwrap_err();
    assert_fields(&err, &["time_entry.id", "update_mask"]);
    assert_eq!(violations(&err).len(), 3, "each bad path is named");
    let err = ts
        .update_time_entry(update_req(
            pb::TimeEntry { id: e.id.clone(), ..bad.clone() },
            &["title", "description", "performed_on", "billed_minutes", "actual_minutes", "billable"],
        ))
        .await
        .unwrap_err();
    assert_fields(
        &err,
        &[
            "time_entry.title",
            "time_entry.description",
            "time_entry.performed_on",
            "time_entry.billed_minutes",
            "time_entry.actual_minutes",
        ],
    );
    let err = ts
        .update_time_entry(update_req(pb::TimeEntry { id: e.id.clone(), etag: "v1".into(), ..Default::default() }, &[]))
        .await
        .unwrap_err();
    assert_fields(&err, &["time_entry.etag"]);
    assert_eq!(get(&app, &e.id).await.unwrap(), e, "nothing changed");

    let err = ts.get_time_entry(pb::GetTimeEntryRequest { time_entry_id: "nope".into() }).await.unwrap_err();
    assert_fields(&err, &["time_entry_id"]);
    let err = ts
        .delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: String::new(), etag: String::new() })
        .await
        .unwrap_err();
    assert_fields(&err, &["time_entry_id"]);
    let err = ts
        .list_time_entries(pb::ListTimeEntriesRequest {
            customer_id: "nope".into(),
            from: "2026-13-01".into(),
            to: "yesterday".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["customer_id", "from", "to"]);
    let err = ts
        .list_time_entries(pb::ListTimeEntriesRequest {
            from: "2026-05-02".into(),
            to: "2026-05-01".into(),
            ..list_req(&c.id)
        })
        .await
        .unwrap_err();
    assert_fields(&err, &["to"]);
    let err = ts.list_time_entries(pb::ListTimeEntriesRequest { page_size: -1, ..list_req(&c.id) }).await.unwrap_err();
    assert_fields(&err, &["page_size"]);
    let err = ts
        .list_time_entries(pb::ListTimeEntriesRequest { page_token: "forged".into(), ..list_req(&c.id) })
        .await
        .unwrap_err();
    assert_fields(&err, &["page_token"]);

    let err = ts.mark_time_entries_invoiced(mark_req("nope", &[&e.id, "bad", ""])).await.unwrap_err();
    assert_fields(&err, &["customer_id", "time_entry_ids[1]", "time_entry_ids[2]"]);
    let err = ts.mark_time_entries_invoiced(mark_req(&c.id, &[])).await.unwrap_err();
    assert_fields(&err, &["time_entry_ids"]);
    assert!(get(&app, &e.id).await.unwrap().invoice_time.is_none());
}

/// A retried create with the same request_id returns the first entry and
/// notifies no one twice.
async fn create_is_idempotent_by_request_id(app: TestApp) {
    let c = app.welcomed_company("Gentag ApS", &[("Gitte", "Gentag", "gitte@gentag.example.dk")]).await;
    set_modules(&app, &c.id, &[pb::Module::Timesheets]).await;
    set_time_mode(&app, pb::NotificationMode::On).await;
    let req = pb::CreateTimeEntryRequest {
        request_id: "erp-4711".into(),
        ..create_req(&c.id, entry("Hovedrengøring", "2026-05-01", 120))
    };
    let first = app.admin_timesheets().create_time_entry(req.clone()).await.unwrap().into_inner().time_entry.unwrap();
    let second = app.admin_timesheets().create_time_entry(req.clone()).await.unwrap().into_inner().time_entry.unwrap();
    assert_eq!(first, second);
    assert_eq!(list(&app, list_req(&c.id)).await.len(), 1);
    assert_eq!(app.deliver_all().await, 1, "one mail for one entry");
    let third = app
        .admin_timesheets()
        .create_time_entry(pb::CreateTimeEntryRequest { request_id: "erp-4712".into(), ..req })
        .await
        .unwrap()
        .into_inner()
        .time_entry
        .unwrap();
    assert_ne!(third.id, first.id);
    assert_eq!(list(&app, list_req(&c.id)).await.len(), 2);
}

/// A supervisor reaches only the time of its areas' customers; another
/// workspace reaches none; everything else is NOT_FOUND.
async fn supervisors_and_workspaces_are_isolated(app: TestApp) {
    let nord = app.area("Nord").await;
    let syd = app.area("Syd").await;
    let (sup_id, sup_key) =
        app.staff_with_key("sup@rengoering.example.dk", pb::StaffRole::Supervisor, vec![nord.clone()]).await;
    let mine = timesheet_customer(&app, "Nord ApS", &nord).await;
    let theirs = timesheet_customer(&app, "Syd ApS", &syd).await;
    let mut sup = app.timesheets(&sup_key);

    let own = sup.create_time_entry(create_req(&mine.id, entry("Nord opgave", "2026-05-01", 60))).await.unwrap();
    let own = own.into_inner().time_entry.unwrap();
    assert_eq!(own.registered_by_staff_user_id, sup_id);
    assert_eq!(get(&app, &own.id).await.unwrap(), own, "the admin sees it");
    let foreign = register(&app, &theirs.id, entry("Syd opgave", "2026-05-01", 60)).await;

    not_found(sup.create_time_entry(create_req(&theirs.id, entry("Snyd", "2026-05-01", 60))).await);
    not_found(sup.get_time_entry(pb::GetTimeEntryRequest { time_entry_id: foreign.id.clone() }).await);
    not_found(sup.list_time_entries(list_req(&theirs.id)).await);
    not_found(
        sup.update_time_entry(update_req(pb::TimeEntry { id: foreign.id.clone(), ..entry("Snyd", "", 0) }, &["title"]))
            .await,
    );
    not_found(
        sup.delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: foreign.id.clone(), etag: String::new() })
            .await,
    );
    not_found(sup.mark_time_entries_invoiced(mark_req(&theirs.id, &[&foreign.id])).await);
    not_found(sup.mark_time_entries_invoiced(mark_req(&mine.id, &[&own.id, &foreign.id])).await);
    not_found(
        sup.get_timesheet_totals(pb::GetTimesheetTotalsRequest {
            customer_id: theirs.id.clone(),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(get(&app, &foreign.id).await.unwrap(), foreign, "untouched");
    assert!(get(&app, &own.id).await.unwrap().invoice_time.is_none(), "nothing marked");

    let (_, other_key) = app.other_workspace().await;
    let mut other = app.timesheets(&other_key);
    not_found(other.get_time_entry(pb::GetTimeEntryRequest { time_entry_id: own.id.clone() }).await);
    not_found(other.list_time_entries(list_req(&mine.id)).await);
    not_found(other.create_time_entry(create_req(&mine.id, entry("Snyd", "2026-05-01", 60))).await);
    not_found(other.mark_time_entries_invoiced(mark_req(&mine.id, &[&own.id])).await);
    not_found(
        other
            .get_timesheet_totals(pb::GetTimesheetTotalsRequest { customer_id: mine.id.clone(), ..Default::default() })
            .await,
    );
    not_found(
        other
            .delete_time_entry(pb::DeleteTimeEntryRequest { time_entry_id: own.id.clone(), etag: String::new() })
            .await,
    );
    assert!(get(&app, &own.id).await.is_ok());

    let err = app.timesheets("not-a-key").list_time_entries(list_req(&mine.id)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// "Time registered" (SPEC §3, §5): billable time is announced at
/// registration by e-mail and in the HUB, as the mode and the entry say, in
/// the customer's language.
async fn registering_time_notifies_as_the_mode_and_entry_say(app: TestApp) {
    let c = app.welcomed_company("Vindue ApS", &[("Vera", "Vindue", "vera@vindue.example.dk")]).await;
    set_modules(&app, &c.id, &[pb::Module::PunchCards, pb::Module::Timesheets]).await;

    // Off by default.
    register(&app, &c.id, entry("Stille", "2026-05-11", 60)).await;
    assert_eq!(app.deliver_all().await, 0);

    set_time_mode(&app, pb::NotificationMode::On).await;
    let mut e = entry("Vinduespudsning", "2026-05-12", 90);
    e.description = "Alle vinduer, også ovenlys".into();
    let windows = register(&app, &c.id, e).await;
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    app.smtp.clear();
    assert_eq!(mail.rcpt_to, ["vera@vindue.example.dk"]);
    assert_eq!(mail.subject(), "Tid registreret: Vinduespudsning");
    let text = mail.text_body();
    for part in [
        "Kære Vera Vindue",
        "Opgave: Vinduespudsning",
        "Dato: 12.5.2026",
        "Tidsforbrug: 1 t 30 min",
        "Beskrivelse: Alle vinduer, også ovenlys",
        "Afmeld automatiske e-mails:",
    ] {
        assert!(text.contains(part), "{part:?} missing in:\n{text}");
    }

    // The entry's "no" wins under ON; non-billable time is never announced.
    let mut quiet = entry("Ingen besked", "2026-05-12", 30);
    quiet.notify = Some(false);
    assert_eq!(register(&app, &c.id, quiet).await.notify, Some(false));
    let mut free = non_billable(entry("Gratis", "2026-05-12", 30));
    free.notify = Some(true);
    register(&app, &c.id, free).await;
    assert_eq!(app.deliver_all().await, 0);

    // ON_DEFAULT_OFF: only an entry that asks for it.
    set_time_mode(&app, pb::NotificationMode::OnDefaultOff).await;
    register(&app, &c.id, entry("Uden ønske", "2026-05-13", 30)).await;
    assert_eq!(app.deliver_all().await, 0);
    let mut asked = entry("Ekstra opgave", "2026-05-13", 45);
    asked.notify = Some(true);
    let extra = register(&app, &c.id, asked).await;
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    app.smtp.clear();
    assert_eq!(mail.subject(), "Tid registreret: Ekstra opgave");
    assert!(mail.text_body().contains("Tidsforbrug: 45 min"));
    assert!(!mail.text_body().contains("Beskrivelse:"), "no description line without a description");

    // The HUB got the same two messages, linking to the entries.
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let inbox = app.hub(&session).list_messages(pb::ListMessagesRequest::default()).await.unwrap().into_inner();
    let time: Vec<_> =
        inbox.messages.iter().filter(|m| m.kind == pb::NotificationKind::TimeRegistered as i32).collect();
    assert_eq!(time.len(), 2, "{:?}", inbox.messages);
    assert_eq!(time[0].title, "Tid registreret: Ekstra opgave");
    assert_eq!(time[0].link, format!("/timesheet/{}", extra.id));
    assert_eq!(time[1].title, "Tid registreret: Vinduespudsning");
    assert_eq!(time[1].link, format!("/timesheet/{}", windows.id));
    assert_eq!(time[1].customer_id, c.id);

    // The customer's own language wins over the workspace's.
    app.admin_customers()
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer { id: c.id.clone(), locale: pb::Locale::En as i32, ..Default::default() }),
            update_mask: mask(&["locale"]),
        })
        .await
        .unwrap();
    let mut english = entry("Window cleaning", "2026-05-12", 90);
    english.notify = Some(true);
    register(&app, &c.id, english).await;
    assert_eq!(app.deliver_all().await, 1);
    let mail = app.smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject(), "Time registered: Window cleaning");
    assert!(mail.text_body().contains("Time spent: 1 h 30 min"), "{}", mail.text_body());
    assert!(mail.text_body().contains("Date: 12 May 2026"), "{}", mail.text_body());
}

/// A HUB contact lists its own customer's time, and only with the module.
async fn hub_lists_own_customers_time(app: TestApp) {
    let a = app.welcomed_company("Hub A ApS", &[("Hanne", "Hub", "hanne@huba.example.dk")]).await;
    set_modules(&app, &a.id, &[pb::Module::Timesheets]).await;
    let b = timesheet_customer(&app, "Hub B ApS", "").await;
    let mut early = entry("Maj start", "2026-05-01", 60);
    early.actual_minutes = Some(80);
    let early = register(&app, &a.id, early).await;
    let late = register(&app, &a.id, non_billable(entry("Maj midt", "2026-05-10", 30))).await;
    register(&app, &b.id, entry("Ikke din", "2026-05-05", 30)).await;
    let invoiced = mark(&app, &a.id, &[&early.id]).await;

    let session = app.hub_session_for(&a.contacts[0].id).await;
    let mut hub = app.hub(&session);
    let all =
        hub.list_time_entries(pb::HubServiceListTimeEntriesRequest::default()).await.unwrap().into_inner().time_entries;
    assert_eq!(
        all,
        [
            pb::HubTimeEntry {
                id: late.id.clone(),
                title: "Maj midt".into(),
                description: String::new(),
                performed_on: "2026-05-10".into(),
                billed_minutes: 30,
                billable: false,
                invoice_time: None,
                create_time: late.create_time,
            },
            pb::HubTimeEntry {
                id: early.id.clone(),
                title: "Maj start".into(),
                description: String::new(),
                performed_on: "2026-05-01".into(),
                billed_minutes: 60,
                billable: true,
                invoice_time: invoiced.invoice_time,
                create_time: early.create_time,
            },
        ]
    );
    let period = hub
        .list_time_entries(pb::HubServiceListTimeEntriesRequest {
            from: "2026-05-02".into(),
            to: "2026-05-31".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(period.time_entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [late.id.as_str()]);
    let first = hub
        .list_time_entries(pb::HubServiceListTimeEntriesRequest { page_size: 1, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.time_entries[0].id, late.id);
    let second = hub
        .list_time_entries(pb::HubServiceListTimeEntriesRequest {
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.time_entries[0].id.as_str(), second.next_page_token.as_str()), (early.id.as_str(), ""));
    let err = hub
        .list_time_entries(pb::HubServiceListTimeEntriesRequest { from: "maj".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_fields(&err, &["from"]);
    let err =
        app.hub(&app.admin_key).list_time_entries(pb::HubServiceListTimeEntriesRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "an API key is no HUB session");

    // Without the Timesheets module the HUB shows no time.
    set_modules(&app, &a.id, &[pb::Module::PunchCards]).await;
    let err = hub.list_time_entries(pb::HubServiceListTimeEntriesRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let c = app.welcomed_company("Hub C ApS", &[("Carl", "Klip", "carl@hubc.example.dk")]).await;
    register(&app, &c.id, entry("Skjult", "2026-05-01", 30)).await;
    let session = app.hub_session_for(&c.contacts[0].id).await;
    let err = app.hub(&session).list_time_entries(pb::HubServiceListTimeEntriesRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

both_databases!(
    create_get_and_list_with_period_filters_and_paging,
    update_with_mask_and_etag,
    delete_checks_etag_and_is_final,
    invoicing_marks_reports_and_locks,
    totals_sum_billable_invoiced_and_the_rest,
    bad_input_names_every_field,
    create_is_idempotent_by_request_id,
    supervisors_and_workspaces_are_isolated,
    registering_time_notifies_as_the_mode_and_entry_say,
    hub_lists_own_customers_time,
);
