{#- Parses an ISO-8601 var value (date, or date and time with an optional Z or
    +HH:MM offset) into a naive UTC datetime, or stops the run with a one-line
    error naming the var. -#}
{% macro parse_var_timestamp(var_name, value) -%}
    {%- set match = modules.re.match(
        '^(\\d{4})-(\\d{2})-(\\d{2})(?:[Tt ](\\d{2}):(\\d{2})(?::(\\d{2}))?)?([Zz]|[+-]\\d{2}:?\\d{2})?$',
        value | string | trim
    ) -%}
    {%- set error = "var " ~ var_name ~ " = '" ~ value ~ "' is not an ISO-8601 timestamp such as 2026-07-01T00:00:00Z" -%}
    {%- if match is none -%}
        {{ exceptions.raise_compiler_error(error) }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for group in match.groups()[:6] -%}
        {%- do parts.append((group or '0') | int) -%}
    {%- endfor -%}
    {%- set year, month, day, hour, minute, second = parts -%}
    {%- set leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 -%}
    {%- set days_in_month = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if not (1 <= month <= 12 and 1 <= day <= days_in_month[month - 1] and hour < 24 and minute < 60 and second < 60) -%}
        {{ exceptions.raise_compiler_error(error) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime(year, month, day, hour, minute, second) -%}
    {%- set offset = match.group(7) or 'Z' -%}
    {%- if offset not in ['Z', 'z'] -%}
        {%- set digits = offset[1:] | replace(':', '') -%}
        {%- set offset_minutes = (digits[:2] | int) * 60 + (digits[2:] | int) -%}
        {%- set sign = -1 if offset[0] == '-' else 1 -%}
        {%- set parsed = parsed - modules.datetime.timedelta(minutes=sign * offset_minutes) -%}
    {%- endif -%}
    {{ return(parsed) }}
{%- endmacro %}
