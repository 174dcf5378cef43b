//! Staff reminders and their types (ReminderService).
use super::{
    caller::staff,
    convert::{self, opt_ts, ts},
    pb,
};
use crate::{
    app::{
        self, AppState,
        reminders::{ReminderFields, RepetitionFields},
    },
    domain::{
        Id,
        format::api_date,
        page::PageRequest,
        recurrence::{Frequency, MonthlyBy, Repetition},
        reminder::{Receivers, Reminder, ReminderDelivery, ReminderType},
    },
    error::{AppError, Violations},
};
use chrono::Weekday;
use tonic::{Request, Response, Status};

fn weekday_in(v: &mut Violations, field: &str, value: i32) -> Option<Weekday> {
    use pb::Weekday as P;
    match P::try_from(value) {
        Ok(P::Monday) => Some(Weekday::Mon),
        Ok(P::Tuesday) => Some(Weekday::Tue),
        Ok(P::Wednesday) => Some(Weekday::Wed),
        Ok(P::Thursday) => Some(Weekday::Thu),
        Ok(P::Friday) => Some(Weekday::Fri),
        Ok(P::Saturday) => Some(Weekday::Sat),
        Ok(P::Sunday) => Some(Weekday::Sun),
        Ok(P::Unspecified) => None,
        Err(_) => {
            v.add(field, format!("has an unknown value {value}"));
            None
        }
    }
}

fn weekday_out(w: Weekday) -> i32 {
    use pb::Weekday as P;
    let p = match w {
        Weekday::Mon => P::Monday,
        Weekday::Tue => P::Tuesday,
        Weekday::Wed => P::Wednesday,
        Weekday::Thu => P::Thursday,
        Weekday::Fri => P::Friday,
        Weekday::Sat => P::Saturday,
        Weekday::Sun => P::Sunday,
    };
    p as i32
}

fn repetition_in(v: &mut Violations, prefix: &str, r: Option<pb::Repetition>) -> RepetitionFields {
    let r = r.unwrap_or_default();
    let frequency = match pb::Frequency::try_from(r.frequency) {
        Ok(pb::Frequency::Unspecified) | Ok(pb::Frequency::Never) => Some(Frequency::Never),
        Ok(pb::Frequency::Daily) => Some(Frequency::Daily),
        Ok(pb::Frequency::Weekly) => Some(Frequency::Weekly),
        Ok(pb::Frequency::Monthly) => Some(Frequency::Monthly),
        Ok(pb::Frequency::Yearly) => Some(Frequency::Yearly),
        Err(_) => {
            v.add(format!("{prefix}.frequency"), format!("has an unknown value {}", r.frequency));
            None
        }
    };
    let mut weekdays = vec![];
    for (i, w) in r.weekdays.iter().enumerate() {
        match weekday_in(v, &format!("{prefix}.weekdays[{i}]"), *w) {
            Some(w) if !weekdays.contains(&w) => weekdays.push(w),
            Some(_) => {}
            None if *w == 0 => v.add(format!("{prefix}.weekdays[{i}]"), "must be a day of the week"),
            None => {}
        }
    }
    let by_weekday = match pb::MonthlyBy::try_from(r.monthly_by) {
        Ok(pb::MonthlyBy::Weekday) => Some((r.week_of_month, weekday_in(v, &format!("{prefix}.weekday"), r.weekday))),
        Ok(_) => None,
        Err(_) => {
            v.add(format!("{prefix}.monthly_by"), format!("has an unknown value {}", r.monthly_by));
            None
        }
    };
    RepetitionFields { frequency, interval: r.interval, weekdays, by_weekday, until: r.until }
}

fn repetition_out(r: &Repetition) -> pb::Repetition {
    let frequency = match r.frequency {
        Frequency::Never => pb::Frequency::Never,
        Frequency::Daily => pb::Frequency::Daily,
        Frequency::Weekly => pb::Frequency::Weekly,
        Frequency::Monthly => pb::Frequency::Monthly,
        Frequency::Yearly => pb::Frequency::Yearly,
    };
    let (monthly_by, week_of_month, weekday) = match r.monthly_by {
        MonthlyBy::DayOfMonth => (pb::MonthlyBy::DayOfMonth, 0, 0),
        MonthlyBy::Weekday { nth, weekday } => (pb::MonthlyBy::Weekday, nth as i32, weekday_out(weekday)),
    };
    pb::Repetition {
        frequency: frequency as i32,
        interval: r.interval as i32,
        weekdays: r.weekdays.iter().map(|w| weekday_out(*w)).collect(),
        monthly_by: monthly_by as i32,
        week_of_month,
        weekday,
        until: r.until.map(api_date).unwrap_or_default(),
    }
}

fn delivery_in(v: &mut Violations, value: i32) -> Option<ReminderDelivery> {
    use pb::ReminderDelivery as P;
    match P::try_from(value) {
        Ok(P::Unspecified) | Ok(P::SystemOnly) => Some(ReminderDelivery::SystemOnly),
        Ok(P::Email) => Some(ReminderDelivery::Email),
        Ok(P::Sms) => Some(ReminderDelivery::Sms),
        Ok(P::EmailAndSms) => Some(ReminderDelivery::EmailAndSms),
        Err(_) => {
            v.add("reminder.delivery", format!("has an unknown value {value}"));
            None
        }
    }
}

fn receivers_in(v: &mut Violations, value: i32) -> Option<Receivers> {
    use pb::ReminderReceivers as P;
    match P::try_from(value) {
        Ok(P::Unspecified) | Ok(P::AdminsAndSupervisors) => Some(Receivers::Both),
        Ok(P::Admins) => Some(Receivers::Admins),
        Ok(P::Supervisors) => Some(Receivers::Supervisors),
        Err(_) => {
            v.add("reminder.receivers", format!("has an unknown value {value}"));
            None
        }
    }
}

fn reminder_out(r: Reminder) -> pb::Reminder {
    pb::Reminder {
        id: r.id.to_string(),
        customer_id: r.customer_id.to_string(),
        name: r.name,
        first_date: api_date(r.first_date),
        reminder_type_id: r.reminder_type_id.map(Id::into_string).unwrap_or_default(),
        text: r.text,
        repetition: Some(repetition_out(&r.repetition)),
        delivery: match r.delivery {
            ReminderDelivery::SystemOnly => pb::ReminderDelivery::SystemOnly,
            ReminderDelivery::Email => pb::ReminderDelivery::Email,
            ReminderDelivery::Sms => pb::ReminderDelivery::Sms,
            ReminderDelivery::EmailAndSms => pb::ReminderDelivery::EmailAndSms,
        } as i32,
        receivers: match r.receivers {
            Receivers::Admins => pb::ReminderReceivers::Admins,
            Receivers::Supervisors => pb::ReminderReceivers::Supervisors,
            Receivers::Both => pb::ReminderReceivers::AdminsAndSupervisors,
        } as i32,
        next_occurrence_time: opt_ts(r.next_fire_at),
        created_by_staff_user_id: r.created_by.map(Id::into_string).unwrap_or_default(),
        create_time: Some(ts(r.created_at)),
        update_time: Some(ts(r.updated_at)),
        etag: r.version.to_string(),
    }
}

fn type_out(t: ReminderType) -> pb::ReminderType {
    pb::ReminderType { id: t.id.to_string(), name: t.name, create_time: Some(ts(t.created_at)) }
}

fn fields(v: &mut Violations, r: pb::Reminder) -> ReminderFields {
    ReminderFields {
        delivery: delivery_in(v, r.delivery),
        receivers: receivers_in(v, r.receivers),
        repetition: repetition_in(v, "reminder.repetition", r.repetition),
        customer_id: r.customer_id,
        name: r.name,
        first_date: r.first_date,
        reminder_type_id: r.reminder_type_id,
        text: r.text,
    }
}

pub async fn create_reminder_type(
    state: &AppState,
    req: Request<pb::CreateReminderTypeRequest>,
) -> Result<Response<pb::CreateReminderTypeResponse>, Status> {
    let caller = staff(&req)?;
    let t = app::reminders::create_type(state, &caller, &req.get_ref().name).await?;
    Ok(Response::new(pb::CreateReminderTypeResponse { reminder_type: Some(type_out(t)) }))
}

pub async fn list_reminder_types(
    state: &AppState,
    req: Request<pb::ListReminderTypesRequest>,
) -> Result<Response<pb::ListReminderTypesResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let page = app::reminders::list_types(state, &caller, PageRequest::parse(r.page_size, &r.page_token)?).await?;
    Ok(Response::new(pb::ListReminderTypesResponse {
        reminder_types: page.items.into_iter().map(type_out).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn delete_reminder_type(
    state: &AppState,
    req: Request<pb::DeleteReminderTypeRequest>,
) -> Result<Response<pb::DeleteReminderTypeResponse>, Status> {
    let caller = staff(&req)?;
    app::reminders::delete_type(state, &caller, &req.get_ref().reminder_type_id).await?;
    Ok(Response::new(pb::DeleteReminderTypeResponse {}))
}

pub async fn create_reminder(
    state: &AppState,
    req: Request<pb::CreateReminderRequest>,
) -> Result<Response<pb::CreateReminderResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let key = super::convert::request_key(&r.request_id, &r);
    let reminder = r.reminder.ok_or_else(|| AppError::invalid("reminder", "is required"))?;
    let mut v = Violations::new();
    let f = fields(&mut v, reminder);
    v.into_result()?;
    let created = app::reminders::create(state, &caller, f, &key).await?;
    Ok(Response::new(pb::CreateReminderResponse { reminder: Some(reminder_out(created)) }))
}

pub async fn get_reminder(
    state: &AppState,
    req: Request<pb::GetReminderRequest>,
) -> Result<Response<pb::GetReminderResponse>, Status> {
    let caller = staff(&req)?;
    let r = app::reminders::get(state, &caller, &req.get_ref().reminder_id).await?;
    Ok(Response::new(pb::GetReminderResponse { reminder: Some(reminder_out(r)) }))
}

pub async fn list_reminders(
    state: &AppState,
    req: Request<pb::ListRemindersRequest>,
) -> Result<Response<pb::ListRemindersResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let page = PageRequest::parse(r.page_size, &r.page_token)?;
    let page = app::reminders::list(state, &caller, &r.customer_id, page).await?;
    Ok(Response::new(pb::ListRemindersResponse {
        reminders: page.items.into_iter().map(reminder_out).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_reminder(
    state: &AppState,
    req: Request<pb::UpdateReminderRequest>,
) -> Result<Response<pb::UpdateReminderResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let reminder = r.reminder.ok_or_else(|| AppError::invalid("reminder", "is required"))?;
    let id = reminder.id.clone();
    let etag = convert::etag("reminder.etag", &reminder.etag)?;
    let mut v = Violations::new();
    let f = fields(&mut v, reminder);
    v.into_result()?;
    let updated = app::reminders::update(state, &caller, &id, f, &convert::mask(r.update_mask), etag).await?;
    Ok(Response::new(pb::UpdateReminderResponse { reminder: Some(reminder_out(updated)) }))
}

pub async fn delete_reminder(
    state: &AppState,
    req: Request<pb::DeleteReminderRequest>,
) -> Result<Response<pb::DeleteReminderResponse>, Status> {
    let caller = staff(&req)?;
    app::reminders::delete(state, &caller, &req.get_ref().reminder_id).await?;
    Ok(Response::new(pb::DeleteReminderResponse {}))
}

pub async fn preview_occurrences(
    state: &AppState,
    req: Request<pb::PreviewOccurrencesRequest>,
) -> Result<Response<pb::PreviewOccurrencesResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let mut v = Violations::new();
    let rep = repetition_in(&mut v, "repetition", r.repetition);
    v.into_result()?;
    let p = app::reminders::preview(state, &caller, &r.first_date, rep, r.count, &r.from_date).await?;
    Ok(Response::new(pb::PreviewOccurrencesResponse {
        occurrences: p.occurrences.into_iter().map(ts).collect(),
        dates: p.dates,
    }))
}
