{#- For an incremental per-contact model: the contacts that have activities
    validated after the newest rows the model holds (its refreshed_at). -#}
{% macro contacts_with_new_activities(activities) -%}
    select distinct changed.contact_id
    from {{ activities }} as changed
    where changed.validated_at > (select max(held.refreshed_at) from {{ this }} as held)
{%- endmacro %}
