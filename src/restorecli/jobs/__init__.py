"""Restore one file or a whole folder: the work behind ``restore TASK`` and ``restore batch``.

The command line only parses options and reports; everything here is importable::

    from restorecli.jobs import folders, inputs, outputs
    from restorecli.jobs.options import FileOptions
    from restorecli.jobs.restorer import load_restorer

    restorer = load_restorer(None, task="derain")
    with inputs.open_input("rainy.jpg") as media:
        outputs.restore_media(restorer, media, Path("clear.jpg"), FileOptions())
    items = folders.plan_batch("photos", "photos_derain", recursive=True)
    report = folders.run_batch(restorer, items, FileOptions())

Single files are checked before the model is loaded (decodable, below the pixel limit, output
writable); a batch loads the model once and reports a bad file instead of stopping on it.
"""
