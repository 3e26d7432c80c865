/* cron.c - the every-minute housekeeping program (being written). */
#include "app.h"

int main(void)
{
    return app_setup("concert-cron") == 0 ? 0 : 1;
}
