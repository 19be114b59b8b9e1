"""The platform core: app factory, configuration, database, accounts and permissions,
tenders, opening, evaluation, awards, scheduler jobs and the staff/expert/public pages."""
