//! The unsubscribe footer every automatic e-mail carries.
use crate::domain::Locale;

pub fn unsubscribe_footer(locale: Locale, business: &str, link: &str) -> String {
    match locale {
        Locale::Da => format!(
            "Du modtager denne e-mail, fordi du har adgang til {business}s kundeportal.\nAfmeld automatiske e-mails: {link}"
        ),
        Locale::En => format!(
            "You receive this e-mail because you have access to the {business} customer portal.\nUnsubscribe from automatic e-mails: {link}"
        ),
        Locale::Sv => format!(
            "Du får detta e-postmeddelande eftersom du har tillgång till {business}s kundportal.\nAvsluta prenumerationen på automatiska e-postmeddelanden: {link}"
        ),
    }
}
