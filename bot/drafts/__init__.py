"""From what people send to a draft ready to submit: each file checked against the API's limits,
converted and hosted; options, prompt ideas, prompt size.

Imports bot.media, bot.hosting, bot.evolink, bot.telegram (messages out), bot.runtime and
storage; never bot.tasks.
"""
