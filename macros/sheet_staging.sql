{#- The staging model of one sheet kind (rows of sheet_rows with this kind), from
    its column list (sheet_columns): each entry names the JSON cell, the column it
    becomes (as) and how it is typed. Every text is stripped (empty -> null); then by type:
      id, text    as is (an id is listed first)
      lower/upper lower- or upper-cased
      date        parsed as an ISO-8601 date (a timestamp is taken in UTC, then its date)
      timestamp   parsed as an ISO-8601 timestamp in UTC
      decimal     a number written with a `.` decimal point and no thousands
                  separators, up to 6 decimals (anything else is null, never guessed)
    A date, timestamp or decimal also keeps its stripped text as text_as. Every row
    also keeps load_id, payload, source_file, row_number and loaded_at. -#}
{% macro sheet_staging(kind) -%}
{%- set columns = sheet_columns(kind) -%}
{%- set parsed_types = ['date', 'timestamp', 'decimal'] -%}
{%- set keywords = ['owner', 'role'] -%}
with

source as (

    select * from {{ source('sheets', 'sheet_rows') }}
    where kind = '{{ kind }}'

),

parsed as (

    select
        *,
        {{ json_document('payload') }} as payload_document
    from source

),

extracted as (

    select
        load_id,
        source_file,
        row_number,
        payload,
        loaded_at
        {%- for column in columns %},
        {{ json_extract_text('payload_document', [column.cell]) }} as {{ column.cell }}_text
        {%- endfor %}
    from parsed

),

stripped as (

    select
        *
        {%- for column in columns %},
        {{ strip_whitespace(column.cell ~ '_text') }} as {{ column.cell }}_stripped
        {%- endfor %}
    from extracted

),

final as (

    select
        -- ids
        load_id,
        {%- for column in columns if column.type == 'id' %}
        {{ column.cell }}_stripped as {{ column.as }},
        {%- endfor %}

        -- strings
        {%- for column in columns if column.type in ['text', 'lower', 'upper'] %}
        {%- set stripped = column.cell ~ '_stripped' %}
        {{ stripped if column.type == 'text' else column.type ~ '(' ~ stripped ~ ')' }} as {{ column.as }},
        {%- if column.as in keywords %}  -- noqa: RF04{% endif %}
        {%- endfor %}
        {%- for column in columns if column.type in parsed_types %}
        {{ column.cell }}_stripped as {{ column.text_as }},
        {%- endfor %}
        payload,
        source_file,

        -- numerics
        row_number,
        {%- for column in columns if column.type == 'decimal' %}
        case
            when {{ regex_matches(column.cell ~ '_stripped', '^[+-]?[0-9]{1,15}([.][0-9]{1,6})?$') }}
                then cast({{ column.cell }}_stripped as {{ dbt.type_numeric() }})
        end as {{ column.as }},
        {%- endfor %}

        -- dates
        {%- for column in columns if column.type == 'date' %}
        cast({{ iso_timestamp_to_utc(column.cell ~ '_stripped') }} as date) as {{ column.as }},
        {%- endfor %}

        -- timestamps
        {%- for column in columns if column.type == 'timestamp' %}
        {{ iso_timestamp_to_utc(column.cell ~ '_stripped') }} as {{ column.as }},
        {%- endfor %}
        loaded_at

    from stripped

)

select * from final
{%- endmacro %}
