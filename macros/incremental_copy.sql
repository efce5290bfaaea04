{#- The body of a public mart that publishes an incremental intermediate model as
    it is: every row of model_name, and on an incremental run only the rows whose
    watermark column is newer than the newest the mart holds (the rows the model's
    own run added or rewrote; the mart's unique_key replaces the old ones). -#}
{% macro incremental_copy(model_name, watermark) -%}
with

published as (

    select * from {{ ref(model_name) }}
    {%- if is_incremental() %}
        where {{ watermark }} > (select max(held.{{ watermark }}) from {{ this }} as held)
    {%- endif %}

)

select * from published
{%- endmacro %}
