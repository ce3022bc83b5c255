"""The loop's stages as plain, typed functions: DataFrame in, DataFrame out, callable without Prefect."""
