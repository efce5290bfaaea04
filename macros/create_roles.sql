{#- Least privilege on PostgreSQL: six NOLOGIN group roles (names from the vars
    loader_role, transformer_role, bi_role, operator_role, eraser_role, raw_owner_role)
    and what each may do.

        dbt run-operation create_roles --target postgres

    Run it as a superuser after the first load (run by an administrator: it creates
    the raw tables), and again whenever a raw table, a schema or an access tier is
    added: it is idempotent (creates only what is missing, re-grants the rest).
    Everything runs in one transaction. `--args '{dry_run: true}'` prints the SQL and
    runs nothing.

    - raw_owner: owns the raw schema and every table in it (taken over here); no login
      may be a member (checked), so no one can alter, update or drop raw data.
    - loader: usage on the raw schema; select, insert on its tables (nothing else: it
      cannot create, update, delete or alter).
    - eraser (what funnel-forget runs as): usage on raw and on every built schema;
      select, update, delete on every table there (default privileges cover what the
      transformer builds later), insert on the erasure tombstones.
    - transformer (what dbt runs as): usage on raw and select on its tables; usage +
      create on every schema the project builds into (from the graph: models, seeds,
      snapshots).
    - bi: usage on the schemas that hold aggregate-tier models. Select on the tables
      themselves comes from each model's `grants` config (var grant_marts).
    - operator: member of bi, plus usage on the schemas of contact-tier models.
    - PUBLIC: loses temporary on the database (only loader and transformer keep it).
    The tier of a mart is its `meta.access_tier` (aggregate | contact). -#}
{% macro create_roles(dry_run=false) %}
    {%- if target.type != 'postgres' -%}
        {{ log(
            "create_roles: roles and grants are PostgreSQL-only; target '" ~ target.name
            ~ "' is " ~ target.type ~ ", nothing to do",
            info=True
        ) }}
        {{ return(none) }}
    {%- endif -%}

    {%- set roles = {
        'loader': var('loader_role'),
        'transformer': var('transformer_role'),
        'bi': var('bi_role'),
        'operator': var('operator_role'),
        'eraser': var('eraser_role'),
        'raw_owner': var('raw_owner_role'),
    } -%}
    {%- for kind, name in roles.items() -%}
        {%- if name is not string or not modules.re.match('^[a-z_][a-z0-9_]{0,62}$', name) -%}
            {{ exceptions.raise_compiler_error(
                "invalid var: " ~ kind ~ "_role = " ~ (name | string)
                ~ " must be a lower-case SQL identifier (letters, digits, underscores)"
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if roles.values() | unique | list | length < roles | length -%}
        {{ exceptions.raise_compiler_error(
            "invalid vars: loader_role, transformer_role, bi_role, operator_role, eraser_role and raw_owner_role must be six different roles"
        ) }}
    {%- endif -%}
    {%- set loader, transformer = roles['loader'], roles['transformer'] -%}
    {%- set bi, operator = roles['bi'], roles['operator'] -%}
    {%- set eraser, owner = roles['eraser'], roles['raw_owner'] -%}
    {%- set raw = var('raw_schema') -%}

    {#- The schemas the project builds into, and which of them hold each tier. -#}
    {%- set built_schemas = [] -%}
    {%- set tier_schemas = {'aggregate': [], 'contact': []} -%}
    {%- for node in graph.nodes.values()
        if node.package_name == project_name
        and node.resource_type in ['model', 'seed', 'snapshot']
        and node.config.materialized != 'ephemeral' -%}
        {%- if node.schema not in built_schemas -%}
            {%- do built_schemas.append(node.schema) -%}
        {%- endif -%}
        {%- set tier = (node.config.meta or {}).get('access_tier') -%}
        {%- if tier in tier_schemas and node.schema not in tier_schemas[tier] -%}
            {%- do tier_schemas[tier].append(node.schema) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if raw in built_schemas -%}
        {{ exceptions.raise_compiler_error(
            "create_roles: the raw schema '" ~ raw ~ "' is also a schema dbt builds into; give the models another schema"
        ) }}
    {%- endif -%}

    {%- set existing = [] -%}
    {%- if execute and not dry_run -%}
        {%- set found = run_query(
            "select rolname from pg_catalog.pg_roles where rolname in ('"
            ~ roles.values() | join("', '") ~ "')"
        ) -%}
        {%- for row in found.rows -%}
            {%- do existing.append(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set database = adapter.quote(target.database) -%}

    {%- set statements = [] -%}
    {#- Roles (cluster-wide): created only when missing, never altered. -#}
    {%- for name in roles.values() if name not in existing -%}
        {%- do statements.append(
            "do $$ begin create role " ~ name ~ " nologin; "
            ~ "exception when duplicate_object then null; end $$"
        ) -%}
    {%- endfor -%}
    {%- do statements.append(
        "do $$ begin if exists (select from pg_catalog.pg_auth_members where roleid = '"
        ~ owner ~ "'::regrole) then raise exception 'create_roles: role " ~ owner
        ~ " (raw_owner_role) must have no members: whoever is one may alter and update raw data'; end if; end $$"
    ) -%}
    {%- do statements.append("grant " ~ bi ~ " to " ~ operator) -%}
    {#- PUBLIC may create temporary tables on a new database: only the pipeline needs to. -#}
    {%- do statements.append("revoke temporary on database " ~ database ~ " from public") -%}
    {%- do statements.append(
        "grant connect, temporary on database " ~ database ~ " to " ~ loader ~ ", " ~ transformer
    ) -%}
    {%- do statements.append(
        "grant connect on database " ~ database ~ " to " ~ bi ~ ", " ~ operator ~ ", " ~ eraser
    ) -%}

    {#- raw: owned by raw_owner; the loader appends, the transformer reads, the eraser erases. -#}
    {%- do statements.append("create schema if not exists " ~ raw) -%}
    {%- do statements.append("alter schema " ~ raw ~ " owner to " ~ owner) -%}
    {%- do statements.append(
        "do $$ declare t record; begin for t in select tablename from pg_catalog.pg_tables"
        ~ " where schemaname = '" ~ raw ~ "' loop execute format('alter table %I.%I owner to %I', '"
        ~ raw ~ "', t.tablename, '" ~ owner ~ "'); end loop; end $$"
    ) -%}
    {%- do statements.append("revoke create on schema " ~ raw ~ " from " ~ loader) -%}
    {%- do statements.append(
        "grant usage on schema " ~ raw ~ " to " ~ loader ~ ", " ~ transformer ~ ", " ~ eraser
    ) -%}
    {%- do statements.append(
        "revoke all on all tables in schema " ~ raw ~ " from " ~ loader ~ ", " ~ transformer ~ ", " ~ eraser
    ) -%}
    {%- do statements.append("grant select, insert on all tables in schema " ~ raw ~ " to " ~ loader) -%}
    {%- do statements.append("grant select on all tables in schema " ~ raw ~ " to " ~ transformer) -%}
    {%- do statements.append(
        "grant select, update, delete on all tables in schema " ~ raw ~ " to " ~ eraser
    ) -%}
    {%- do statements.append(
        "do $$ begin if to_regclass('" ~ raw ~ ".erasures') is not null then grant insert on "
        ~ raw ~ ".erasures, " ~ raw ~ ".erasure_salt to " ~ eraser ~ "; end if; end $$"
    ) -%}

    {#- dbt's schemas: the transformer creates (and so owns) everything in them; the
        eraser deletes and rewrites rows there (also in what is built later). -#}
    {%- for schema in built_schemas | sort -%}
        {%- do statements.append("create schema if not exists " ~ schema) -%}
        {%- do statements.append("grant usage, create on schema " ~ schema ~ " to " ~ transformer) -%}
        {%- do statements.append("grant usage on schema " ~ schema ~ " to " ~ eraser) -%}
        {%- do statements.append(
            "grant select, update, delete on all tables in schema " ~ schema ~ " to " ~ eraser
        ) -%}
        {%- do statements.append(
            "alter default privileges for role " ~ transformer ~ " in schema " ~ schema
            ~ " grant select, update, delete on tables to " ~ eraser
        ) -%}
    {%- endfor -%}

    {#- Readers see the schemas of their tiers; table grants come from dbt's grants config. -#}
    {%- for schema in tier_schemas['aggregate'] | sort -%}
        {%- do statements.append("grant usage on schema " ~ schema ~ " to " ~ bi) -%}
    {%- endfor -%}
    {%- for schema in tier_schemas['contact'] | sort -%}
        {%- do statements.append("grant usage on schema " ~ schema ~ " to " ~ operator) -%}
    {%- endfor -%}

    {%- set sql = statements | join(";\n") ~ ";" -%}
    {%- if dry_run -%}
        {{ log("create_roles (dry run, nothing executed):\n" ~ sql, info=True) }}
        {{ return(none) }}
    {%- endif -%}
    {%- call statement('create_roles') -%}
        {{ sql }}
    {%- endcall -%}
    {%- do adapter.commit() -%}

    {%- set created = [] -%}
    {%- for name in roles.values() if name not in existing -%}
        {%- do created.append(name) -%}
    {%- endfor -%}
    {%- set lines = [
        "create_roles: database " ~ target.database ~ " ready (roles created now: "
            ~ (created | join(", ") or "none") ~ ")",
        "  " ~ owner ~ ": owns " ~ raw ~ " (no members)",
        "  " ~ loader ~ ": appends to " ~ raw,
        "  " ~ eraser ~ ": erases people from " ~ raw ~ " and every built schema",
        "  " ~ transformer ~ ": reads " ~ raw ~ ", builds " ~ built_schemas | sort | join(", "),
        "  " ~ bi ~ ": reads the aggregate marts in "
            ~ (tier_schemas['aggregate'] | sort | join(", ") or "no schema"),
        "  " ~ operator ~ ": member of " ~ bi ~ ", also reads the contact marts in "
            ~ (tier_schemas['contact'] | sort | join(", ") or "no schema"),
        "  select on each mart is granted by: dbt build --vars '{grant_marts: true}'",
    ] -%}
    {{ log(lines | join("\n"), info=True) }}
{% endmacro %}
