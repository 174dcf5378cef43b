use super::{
    caller::staff,
    convert::{self, ts},
    pb::{self, punch_card_service_server::PunchCardService},
};
use crate::{
    app::{
        self, AppState,
        punch_cards::{CardFields, RegistrationFields},
    },
    domain::{
        format::api_date,
        page::PageRequest,
        punch_card::{CardState, PunchCard, Registration, Unit},
    },
    error::{AppError, Violations},
};
use chrono::NaiveDate;
use tonic::{Request, Response, Status};

pub struct PunchCardApi {
    state: AppState,
}

impl PunchCardApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn unit_in(v: &mut Violations, value: i32) -> Option<Unit> {
    match pb::PunchCardUnit::try_from(value) {
        Ok(pb::PunchCardUnit::Punches) => Some(Unit::Punches),
        Ok(pb::PunchCardUnit::Hours) => Some(Unit::Hours),
        Ok(pb::PunchCardUnit::Unspecified) => None,
        Err(_) => {
            v.add("punch_card.unit", format!("has an unknown value {value}"));
            None
        }
    }
}

pub fn state_in(v: &mut Violations, value: i32) -> Option<CardState> {
    match pb::PunchCardState::try_from(value) {
        Ok(pb::PunchCardState::Active) => Some(CardState::Active),
        Ok(pb::PunchCardState::UsedUp) => Some(CardState::UsedUp),
        Ok(pb::PunchCardState::Overdrawn) => Some(CardState::Overdrawn),
        Ok(pb::PunchCardState::Expired) => Some(CardState::Expired),
        Ok(pb::PunchCardState::Unspecified) => None,
        Err(_) => {
            v.add("state", format!("has an unknown value {value}"));
            None
        }
    }
}

pub fn card_out(c: PunchCard, today: NaiveDate) -> pb::PunchCard {
    let state = match c.state_on(today) {
        CardState::Active => pb::PunchCardState::Active,
        CardState::UsedUp => pb::PunchCardState::UsedUp,
        CardState::Overdrawn => pb::PunchCardState::Overdrawn,
        CardState::Expired => pb::PunchCardState::Expired,
    };
    pb::PunchCard {
        id: c.id.to_string(),
        customer_id: c.customer_id.to_string(),
        name: c.name.clone(),
        unit: match c.unit {
            Unit::Punches => pb::PunchCardUnit::Punches,
            Unit::Hours => pb::PunchCardUnit::Hours,
        } as i32,
        total: c.total,
        used: c.used,
        remaining: c.remaining(),
        start_date: api_date(c.start_date),
        expiry_date: c.expiry_date.map(api_date).unwrap_or_default(),
        state: state as i32,
        created_by_staff_user_id: c.created_by.as_ref().map(|i| i.to_string()).unwrap_or_default(),
        notify: c.notify,
        create_time: Some(ts(c.created_at)),
        update_time: Some(ts(c.updated_at)),
        etag: c.version.to_string(),
    }
}

pub fn registration_out(r: Registration) -> pb::Registration {
    pb::Registration {
        id: r.id.to_string(),
        punch_card_id: r.punch_card_id.to_string(),
        date: api_date(r.date),
        description: r.description,
        amount: r.amount,
        registered_by_staff_user_id: r.registered_by.map(|i| i.to_string()).unwrap_or_default(),
        notify: r.notify,
        create_time: Some(ts(r.created_at)),
        update_time: Some(ts(r.updated_at)),
        etag: r.version.to_string(),
    }
}

fn fields(v: &mut Violations, c: pb::PunchCard) -> CardFields {
    CardFields {
        unit: unit_in(v, c.unit),
        customer_id: c.customer_id,
        name: c.name,
        total: c.total,
        start_date: c.start_date,
        expiry_date: c.expiry_date,
        notify: c.notify,
    }
}

impl PunchCardApi {
    async fn today(&self, ws: &crate::domain::Id) -> Result<NaiveDate, Status> {
        Ok(crate::app::punch_cards::today(&self.state, ws).await?)
    }
}

#[tonic::async_trait]
impl PunchCardService for PunchCardApi {
    async fn create_punch_card(
        &self,
        req: Request<pb::CreatePunchCardRequest>,
    ) -> Result<Response<pb::CreatePunchCardResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let c = r.punch_card.ok_or_else(|| AppError::invalid("punch_card", "is required"))?;
        let mut v = Violations::new();
        let f = fields(&mut v, c);
        v.into_result()?;
        let card = app::punch_cards::create(&self.state, &caller, f, &key).await?;
        let today = self.today(&caller.workspace_id).await?;
        Ok(Response::new(pb::CreatePunchCardResponse { punch_card: Some(card_out(card, today)) }))
    }

    async fn get_punch_card(
        &self,
        req: Request<pb::GetPunchCardRequest>,
    ) -> Result<Response<pb::GetPunchCardResponse>, Status> {
        let caller = staff(&req)?;
        let card = app::punch_cards::get(&self.state, &caller, &req.get_ref().punch_card_id).await?;
        let today = self.today(&caller.workspace_id).await?;
        Ok(Response::new(pb::GetPunchCardResponse { punch_card: Some(card_out(card, today)) }))
    }

    async fn list_punch_cards(
        &self,
        req: Request<pb::ListPunchCardsRequest>,
    ) -> Result<Response<pb::ListPunchCardsResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let mut v = Violations::new();
        let filter = state_in(&mut v, r.state);
        v.into_result()?;
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::punch_cards::list(&self.state, &caller, &r.customer_id, filter, page).await?;
        let today = self.today(&caller.workspace_id).await?;
        Ok(Response::new(pb::ListPunchCardsResponse {
            punch_cards: page.items.into_iter().map(|c| card_out(c, today)).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_punch_card(
        &self,
        req: Request<pb::UpdatePunchCardRequest>,
    ) -> Result<Response<pb::UpdatePunchCardResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let c = r.punch_card.ok_or_else(|| AppError::invalid("punch_card", "is required"))?;
        let id = c.id.clone();
        let etag = convert::etag("punch_card.etag", &c.etag)?;
        let mut v = Violations::new();
        let mut f = fields(&mut v, c);
        // The unit is fixed; an unknown value is still a mistake worth naming.
        f.unit = None;
        v.into_result()?;
        let card = app::punch_cards::update(&self.state, &caller, &id, f, &convert::mask(r.update_mask), etag).await?;
        let today = self.today(&caller.workspace_id).await?;
        Ok(Response::new(pb::UpdatePunchCardResponse { punch_card: Some(card_out(card, today)) }))
    }

    async fn delete_punch_card(
        &self,
        req: Request<pb::DeletePunchCardRequest>,
    ) -> Result<Response<pb::DeletePunchCardResponse>, Status> {
        let caller = staff(&req)?;
        app::punch_cards::delete(&self.state, &caller, &req.get_ref().punch_card_id).await?;
        Ok(Response::new(pb::DeletePunchCardResponse {}))
    }

    async fn register_punch(
        &self,
        req: Request<pb::RegisterPunchRequest>,
    ) -> Result<Response<pb::RegisterPunchResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let key = super::convert::request_key(&r.request_id, &r);
        let f = RegistrationFields { date: r.date, description: r.description, amount: r.amount, notify: r.notify };
        let done = app::punch_cards::register(&self.state, &caller, &r.punch_card_id, f, &key).await?;
        Ok(Response::new(pb::RegisterPunchResponse {
            registration: Some(registration_out(done.registration)),
            punch_card: Some(card_out(done.card, done.today)),
        }))
    }

    async fn list_registrations(
        &self,
        req: Request<pb::ListRegistrationsRequest>,
    ) -> Result<Response<pb::ListRegistrationsResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::punch_cards::list_registrations(&self.state, &caller, &r.punch_card_id, page).await?;
        Ok(Response::new(pb::ListRegistrationsResponse {
            registrations: page.items.into_iter().map(registration_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_registration(
        &self,
        req: Request<pb::UpdateRegistrationRequest>,
    ) -> Result<Response<pb::UpdateRegistrationResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let reg = r.registration.ok_or_else(|| AppError::invalid("registration", "is required"))?;
        let etag = convert::etag("registration.etag", &reg.etag)?;
        let f = RegistrationFields { date: reg.date, description: reg.description, amount: reg.amount, notify: None };
        let (reg, card) = app::punch_cards::update_registration(
            &self.state,
            &caller,
            &reg.id,
            f,
            &convert::mask(r.update_mask),
            etag,
        )
        .await?;
        let today = self.today(&caller.workspace_id).await?;
        Ok(Response::new(pb::UpdateRegistrationResponse {
            registration: Some(registration_out(reg)),
            punch_card: Some(card_out(card, today)),
        }))
    }

    async fn delete_registration(
        &self,
        req: Request<pb::DeleteRegistrationRequest>,
    ) -> Result<Response<pb::DeleteRegistrationResponse>, Status> {
        let caller = staff(&req)?;
        let card = app::punch_cards::delete_registration(&self.state, &caller, &req.get_ref().registration_id).await?;
        let today = self.today(&caller.workspace_id).await?;
        Ok(Response::new(pb::DeleteRegistrationResponse { punch_card: Some(card_out(card, today)) }))
    }
}
