-- Natural keys that imports upsert by and 0006 left without a unique index:
-- an academic period is known by its name within its term.
create unique index academic_periods_name on academic_periods (term_id, name);
