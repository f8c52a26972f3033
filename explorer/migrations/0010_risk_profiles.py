from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("explorer", "0008_ocds_lookup_indexes")]

    operations = [
        migrations.CreateModel(
            name="RiskProfile",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=20)),
                ("entity_id", models.BigIntegerField()),
                ("awards", models.PositiveIntegerField()),
                ("size_class", models.CharField(max_length=20)),
                (
                    "score",
                    models.FloatField(
                        help_text="Composite screening score, 0-100 (100: no signal).", null=True
                    ),
                ),
                (
                    "components",
                    models.JSONField(
                        help_text="{component: value, count, of, peers, percentile, score, flag}"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "entity_id"), name="one_risk_profile_per_entity")
                ]
            },
        ),
        migrations.CreateModel(
            name="PeerBaseline",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("computed_at", models.DateTimeField()),
                ("awards", models.PositiveIntegerField()),
                ("seconds", models.FloatField(default=0)),
                ("peers", models.JSONField()),
            ],
            options={"get_latest_by": "computed_at"},
        ),
    ]
