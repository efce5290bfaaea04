{#- The UTC timestamp of an ISO-8601 text (already stripped): a date, optionally a
    time (seconds and up to 9 fraction digits optional; digits beyond the 6th,
    a microsecond, are dropped alike on every engine), optionally Z or an offset
    +HH, +HHMM or +HH:MM; a time without offset is UTC. Null when the text is not
    such a timestamp, names an impossible date or time, or its UTC instant falls
    outside the years 0001-9999 (9999-12-31T23:00-18:00), which clients such as
    Python cannot read; never a cast error (the outer case guards every cast). -#}
{% macro iso_timestamp_to_utc(text) -%}
    {%- set iso_date = '^[0-9]{4}-[0-9]{2}-[0-9]{2}' -%}
    {%- set iso_time = '[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?' -%}
    {%- set iso_zone = '([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?' -%}
    {%- set shaped = 'coalesce(' ~ regex_matches(text, iso_date ~ '(' ~ iso_time ~ iso_zone ~ ')?$') ~ ', false)' -%}
    {#- the zone's length, once the text is shaped: Z, or a sign (after the HH:MM that
        ends at character 16) with HH, HHMM or HH:MM; read at fixed positions, not by a
        regular expression per use (the expression repeats below) -#}
    {%- set last = 'substring(' ~ text ~ ', length(' ~ text ~ ') - back, 1)' -%}
    {%- set zone_length = "case when " ~ last | replace('back', '0') ~ " in ('Z', 'z') then 1"
        ~ " when length(" ~ text ~ ") >= 22 and " ~ last | replace('back', '5') ~ " in ('+', '-') then 6"
        ~ " when length(" ~ text ~ ") >= 21 and " ~ last | replace('back', '4') ~ " in ('+', '-') then 5"
        ~ " when length(" ~ text ~ ") >= 19 and " ~ last | replace('back', '2') ~ " in ('+', '-') then 3"
        ~ " else 0 end" -%}
    {%- set zone_start = '(length(' ~ text ~ ') - (' ~ zone_length ~ ') + 1)' -%}
    {%- set year = 'cast(substring(' ~ text ~ ', 1, 4) as integer)' -%}
    {%- set month = 'cast(substring(' ~ text ~ ', 6, 2) as integer)' -%}
    {%- set day = 'cast(substring(' ~ text ~ ', 9, 2) as integer)' -%}
    {%- set hour = 'case when length(' ~ text ~ ') > 10 then cast(substring(' ~ text ~ ', 12, 2) as integer) else 0 end' -%}
    {%- set minute = 'case when length(' ~ text ~ ') > 10 then cast(substring(' ~ text ~ ', 15, 2) as integer) else 0 end' -%}
    {%- set second = "case when substring(" ~ text ~ ", 17, 1) = ':' then cast(substring(" ~ text ~ ", 18, 2) as integer) else 0 end" -%}
    {%- set offset_hours = 'case when (' ~ zone_length ~ ') > 1 then cast(substring(' ~ text ~ ', ' ~ zone_start ~ ' + 1, 2) as integer) else 0 end' -%}
    {%- set offset_minutes = 'case when (' ~ zone_length ~ ') > 3 then cast(substring(' ~ text ~ ', length(' ~ text ~ ') - 1, 2) as integer) else 0 end' -%}
    {%- set offset_sign = "case when substring(" ~ text ~ ", " ~ zone_start ~ ", 1) = '-' then -1 else 1 end" -%}
    {%- set local_time = "cast(replace(replace(substring(substring(" ~ text ~ ", 1, " ~ zone_start ~ " - 1), 1, 26), 'T', ' '), 't', ' ') as " ~ dbt.type_timestamp() ~ ")" -%}
    {%- set utc = dbt.dateadd('minute', '-1 * (' ~ offset_sign ~ ') * ((' ~ offset_hours ~ ') * 60 + (' ~ offset_minutes ~ '))', local_time) %}
    case when {{ shaped }} then case
        when {{ year }} >= 1
            and {{ month }} between 1 and 12
            and {{ day }} between 1 and case
                when {{ month }} = 2 and (({{ year }} % 4 = 0 and {{ year }} % 100 != 0) or {{ year }} % 400 = 0) then 29
                when {{ month }} = 2 then 28
                when {{ month }} in (4, 6, 9, 11) then 30
                else 31
            end
            and {{ hour }} <= 23
            and {{ minute }} <= 59
            and {{ second }} <= 59
            and {{ offset_hours }} <= 18
            and {{ offset_minutes }} <= 59
            then case
                when {{ utc }} between cast('0001-01-01' as {{ dbt.type_timestamp() }})
                    and cast('9999-12-31 23:59:59.999999' as {{ dbt.type_timestamp() }})
                    then {{ utc }}
            end
    end end
{%- endmacro %}
