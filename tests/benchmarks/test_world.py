"""The benchmark's world generator: deterministic, the size it says, the seed's layout."""

from benchmarks.config import WorldSize
from benchmarks.world import BIG_FOLDER, World

SIZE = WorldSize(
    experiments=3, runs=10, big_folder_files=5, orphans=4, registered_models=2, logged_models=2
)


def test_the_world_has_the_size_it_announces():
    keys = [key for key, _, _ in World(SIZE).iter_keys()]
    assert len(keys) == SIZE.artifacts == 10 * 10 + 5 + 4 + 2 * 3
    assert len(set(keys)) == len(keys)


def test_the_bucket_and_each_experiment_root_list_in_s3_order():
    # S3 lists a prefix in its keys' code point order ("1/", "10/", "2/" ...); the sync's
    # merge reads the catalogued rows in that order too, so the stand-in keeps to it.
    world = World(WorldSize(experiments=12, runs=30, orphans=12, logged_models=3))
    keys = [key for key, _, _ in world.iter_keys()]
    assert any(key.startswith("10/") for key in keys)
    assert keys == sorted(keys)
    for index in range(12):
        keys = [key for key, _, _ in world.iter_keys(experiment_indexes=[index])]
        assert keys
        assert keys == sorted(keys)


def test_the_world_is_the_same_every_time():
    first = list(World(SIZE).iter_objects())
    assert first == list(World(SIZE).iter_objects())


def test_keys_follow_the_mlflow_layout():
    world = World(SIZE)
    big = world.big_run()
    keys = {key for key, _, _ in world.iter_keys()}
    assert f"{big.experiment_id}/{big.run_id}/artifacts/model/MLmodel" in keys
    assert f"{big.prefix}{BIG_FOLDER}/part-00004.csv" in keys
    assert any("/models/m-" in key for key in keys)


def test_a_changed_generation_changes_the_given_share_of_runs_only():
    world = World(WorldSize(experiments=2, runs=200))
    changed = [i for i in range(200) if world.is_changed(i, generation=1, change_share=0.01)]
    assert len(changed) == 2
    unchanged = dict(world.iter_objects())
    after = dict(world.iter_objects(generation=1, change_share=0.01))
    differing = [key for key in unchanged if unchanged[key] != after[key]]
    assert len(differing) == 2 * 10
    assert all(
        world.run(changed[0]).run_id in key or world.run(changed[1]).run_id in key
        for key in differing
    )


def test_mlmodel_content_is_yaml_the_sync_can_parse():
    import yaml

    world = World(SIZE)
    key = world.big_run().prefix + "model/MLmodel"
    document = yaml.safe_load(world.file_bytes(key=key, path="model/MLmodel"))
    assert set(document["flavors"]) == {"python_function", "sklearn"}
