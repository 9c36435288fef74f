# The composition root: read the board definition, start the app.
import app

app.start()
